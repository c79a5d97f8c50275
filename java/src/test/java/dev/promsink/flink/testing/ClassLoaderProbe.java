package dev.promsink.flink.testing;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the operators of a job saw of their class loaders, reported from the job's user-code class
 * loader to the test. It must be loaded once, by the test's class loader: keep it out of any job
 * jar (a child-first user-code class loader then finds it in its parent) and use only JDK types in
 * its methods.
 */
public final class ClassLoaderProbe {
  private static final Map<String, List<Observation>> RUNS = new ConcurrentHashMap<>();
  private static final Map<String, Map<Integer, List<Thread>>> THREADS = new ConcurrentHashMap<>();

  /** One operator instance (one attempt of one subtask). */
  public static final class Observation {
    public final int attempt;
    public final ClassLoader operatorLoader;
    public final ClassLoader sinkLoader;

    Observation(int attempt, ClassLoader operatorLoader, ClassLoader sinkLoader) {
      this.attempt = attempt;
      this.operatorLoader = operatorLoader;
      this.sinkLoader = sinkLoader;
    }
  }

  private ClassLoaderProbe() {}

  /** Called by an operator of the job: the loaders of its own class and of the sink's classes. */
  public static void record(
      String run, int attempt, ClassLoader operatorLoader, ClassLoader sinkLoader) {
    RUNS.computeIfAbsent(run, r -> Collections.synchronizedList(new ArrayList<>()))
        .add(new Observation(attempt, operatorLoader, sinkLoader));
  }

  /** Called by an operator of the job: threads it saw alive in attempt {@code attempt}. */
  public static void recordThreads(String run, int attempt, List<Thread> threads) {
    THREADS.computeIfAbsent(run, r -> new ConcurrentHashMap<>()).put(attempt, List.copyOf(threads));
  }

  /** Attempt to the threads recorded by {@link #recordThreads}. */
  public static Map<Integer, List<Thread>> threads(String run) {
    return new TreeMap<>(THREADS.getOrDefault(run, Map.of()));
  }

  public static List<Observation> observations(String run) {
    List<Observation> list = RUNS.getOrDefault(run, Collections.emptyList());
    synchronized (list) {
      return new ArrayList<>(list);
    }
  }

  public static void forget(String run) {
    RUNS.remove(run);
    THREADS.remove(run);
  }
}
