package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import dev.promsink.flink.internal.jni.NativeClient;
import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.AttemptSinkCounters;
import dev.promsink.flink.testing.ClassLoaderProbe;
import dev.promsink.flink.testing.PrometheusQuery;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.Samples;
import dev.promsink.flink.testing.SinkJobs;
import dev.promsink.flink.testing.Waits;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.util.TestStreamEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job that fails and restarts 20 times in one TaskManager, writing to a real Prometheus. Every
 * attempt creates new sink writers, so 42 native clients (21 attempts of 2 writers) are created,
 * send and are closed, some with requests in flight. Afterwards the final attempt's data is all in
 * Prometheus, no native sender thread is left alive and no extracted library file is left behind.
 *
 * <p>The job is submitted with a job jar (the sink's classes and this test's operators), as a job
 * submitted to a Flink cluster is: the tasks load the sink from a child-first user-code class
 * loader, not from the test's class path, so the native library is loaded (copied to a temporary
 * file) by that class loader. Flink keeps one user-code class loader per job and TaskManager while
 * the job holds slots there, and a restart does not give up the slots, so the 20 restarts reuse
 * that loader (the test reports how many it saw); loading the library in many fresh class loaders
 * is covered by {@code NativeLibraryLoaderTest}.
 */
class FailoverTest {
  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  private static final Path TMP = Paths.get(System.getProperty("java.io.tmpdir"));
  private static final Duration WAIT = Duration.ofSeconds(60);

  /**
   * The job's code. It runs in the job's user-code class loader, so it must not touch this test
   * class (whose static fields start a reporter and a cluster extension).
   */
  static final class Job {
    static final String METRIC = "failover_value";
    static final String SENDER_THREAD_PREFIX = "promsink-sender-";

    /** Sending lanes per writer: one native thread each. */
    static final int LANES = 2;

    static final int SERIES = 10;
    static final long RECORDS = 100;
    static final int FINAL_ATTEMPT = 20;

    /** A failing attempt waits until this many of its records are stored ... */
    static final long STORED_BEFORE_FAILING = 50;

    /** ... then lets these through and fails on the next, so some are in flight at the failure. */
    static final long MORE_BEFORE_FAILING = 10;

    private Job() {}

    /** Record {@code i} of attempt {@code attempt}: each attempt writes its own series. */
    static PrometheusTimeSeries record(int attempt, long base, long i) {
      return PrometheusTimeSeries.builder()
          .withMetricName(METRIC)
          .addLabel("series", "s" + (i % SERIES))
          .addLabel("attempt", Integer.toString(attempt))
          .addSample(attempt * 1000.0 + i, base + (i / SERIES) * 1000L)
          .build();
    }

    static String selector(int attempt) {
      return METRIC + "{attempt=\"" + attempt + "\"}";
    }
  }

  /** Turns indices into records; fails every attempt before the 20th after its first records. */
  static final class Tagger extends RichMapFunction<Long, PrometheusTimeSeries> {
    private static final long serialVersionUID = 1L;
    private final String run;
    private final String prometheusUrl;
    private final long base;
    private transient int attempt;

    Tagger(String run, String prometheusUrl, long base) {
      this.run = run;
      this.prometheusUrl = prometheusUrl;
      this.base = base;
    }

    @Override
    public void open(OpenContext openContext) {
      attempt = getRuntimeContext().getTaskInfo().getAttemptNumber();
      ClassLoaderProbe.record(
          run, attempt, Tagger.class.getClassLoader(), PrometheusSink.class.getClassLoader());
    }

    @Override
    public PrometheusTimeSeries map(Long index) throws Exception {
      if (attempt < Job.FINAL_ATTEMPT) {
        if (index == Job.STORED_BEFORE_FAILING) {
          // Both writers of this attempt exist and have written: wait (bounded) for the data.
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          while (PrometheusQuery.sampleCount(prometheusUrl, Job.selector(attempt), "1h")
              < Job.STORED_BEFORE_FAILING) {
            if (System.nanoTime() - deadline > 0) {
              throw new IllegalStateException("attempt " + attempt + ": data not stored in time");
            }
            Thread.sleep(10);
          }
          // The native sender threads alive now: the lanes of this attempt's two writers (the
          // writers of earlier attempts were closed before this attempt was deployed).
          ClassLoaderProbe.recordThreads(
              run,
              attempt,
              Thread.getAllStackTraces().keySet().stream()
                  .filter(t -> t.isAlive() && t.getName().startsWith(Job.SENDER_THREAD_PREFIX))
                  .collect(Collectors.toList()));
        }
        if (index == Job.STORED_BEFORE_FAILING + Job.MORE_BEFORE_FAILING) {
          throw new IllegalStateException("planned failure of attempt " + attempt);
        }
      }
      return Job.record(attempt, base, index);
    }
  }

  /** A job jar: the sink's classes (with the native library) and this test's job classes. */
  private static Path jobJar(Path dir) throws Exception {
    Path sinkClasses =
        Paths.get(NativeClient.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path testClasses =
        Paths.get(FailoverTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String prefix = FailoverTest.class.getSimpleName() + "$";
    Path jar = dir.resolve("promsink-failover-job.jar");
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
      addTree(out, sinkClasses, p -> true);
      Path testPackage = testClasses.resolve(FailoverTest.class.getPackageName().replace('.', '/'));
      addTree(
          out,
          testClasses,
          p ->
              p.getParent() != null
                  && p.getParent().equals(testPackage)
                  && p.getFileName().toString().startsWith(prefix));
    }
    return jar;
  }

  private static void addTree(JarOutputStream out, Path root, Predicate<Path> include)
      throws IOException {
    List<Path> files;
    try (Stream<Path> walk = Files.walk(root)) {
      files =
          walk.filter(Files::isRegularFile).filter(include).sorted().collect(Collectors.toList());
    }
    for (Path f : files) {
      out.putNextEntry(new JarEntry(root.relativize(f).toString().replace('\\', '/')));
      Files.copy(f, out);
      out.closeEntry();
    }
  }

  /** Regular files named promsink-* in java.io.tmpdir (the loader's library copies). */
  private static Set<String> promsinkFiles() {
    try (Stream<Path> files = Files.list(TMP)) {
      return files
          .filter(p -> p.getFileName().toString().startsWith("promsink-"))
          .filter(Files::isRegularFile)
          .map(p -> p.getFileName().toString())
          .collect(Collectors.toCollection(TreeSet::new));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Set<Thread> senderThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith(Job.SENDER_THREAD_PREFIX) && t.isAlive())
        .collect(Collectors.toSet());
  }

  private static int subtaskOf(PrometheusTimeSeries record) {
    return KeyGroupRangeAssignment.assignKeyToParallelOperator(
        new PrometheusTimeSeriesLabelsAndMetricNameKeySelector().getKey(record), 128, 2);
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void twentyRestartsInOneTaskManagerLeaveNoThreadsOrFiles(
      @InjectMiniCluster MiniCluster cluster, @TempDir Path dir) throws Exception {
    String run = "failover-" + System.nanoTime();
    long base = (System.currentTimeMillis() - 30 * 60_000L) / 1000 * 1000;
    // Precondition of the data: in every attempt both sink writers get some of the records
    // written before the failure, so both write (and the wait in Tagger can end).
    for (int a = 0; a <= Job.FINAL_ATTEMPT; a++) {
      Set<Integer> subtasks = new HashSet<>();
      for (long i = 0; i < Job.STORED_BEFORE_FAILING; i++) {
        subtasks.add(subtaskOf(Job.record(a, base, i)));
      }
      assertThat(subtasks).as("writers of attempt %d", a).containsExactly(0, 1);
    }
    Path jar = jobJar(dir);
    Set<Thread> sendersBefore = senderThreads();

    try (PrometheusServer prometheus = new PrometheusServer()) {
      // Regular files only: the receivers' storage directories are promsink-* directories too.
      Set<String> filesBefore = promsinkFiles();

      Configuration conf = new Configuration();
      conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
      conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 30);
      conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(10));
      StreamExecutionEnvironment env =
          new TestStreamEnvironment(
              cluster,
              conf,
              2,
              Collections.singletonList(new org.apache.flink.core.fs.Path(jar.toUri())),
              Collections.emptyList());
      env.fromSequence(0, Job.RECORDS - 1)
          .setParallelism(1)
          .map(new Tagger(run, prometheus.baseUrl(), base))
          .setParallelism(1)
          .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(
              PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
                  .setMaxBatchSizeInSamples(10)
                  .setMaxTimeInBufferMS(20)
                  .setSendingLanes(Job.LANES)
                  .setAdaptiveSendingLanes(false) // every lane in use, so every thread started
                  .build());
      JobClient job = env.executeAsync("promsink failover");
      JobID id = job.getJobID();
      try {
        job.getJobExecutionResult().get(60, TimeUnit.SECONDS);
      } finally {
        if (!job.getJobStatus().get(10, TimeUnit.SECONDS).isGloballyTerminalState()) {
          job.cancel().get(30, TimeUnit.SECONDS);
        }
      }
      assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.FINISHED);

      // 21 attempts (0 to 20), each in the job's user-code class loader, never the test's.
      List<ClassLoaderProbe.Observation> seen = ClassLoaderProbe.observations(run);
      assertThat(seen.stream().map(o -> o.attempt).collect(Collectors.toList()))
          .containsExactlyElementsOf(
              IntStream.rangeClosed(0, Job.FINAL_ATTEMPT).boxed().collect(Collectors.toList()));
      ClassLoader testLoader = FailoverTest.class.getClassLoader();
      for (ClassLoaderProbe.Observation o : seen) {
        assertThat(o.operatorLoader).isNotSameAs(testLoader);
        assertThat(o.sinkLoader).isSameAs(o.operatorLoader);
      }
      // Flink 1.20 binds the user-code class loader to the job's slots on the TaskManager, and a
      // restart keeps the slots: all 21 attempts ran in one loader (so the library was extracted
      // and loaded once, by that loader, besides any copy of the test's own class loader).
      Set<ClassLoader> loaders = Collections.newSetFromMap(new IdentityHashMap<>());
      seen.forEach(o -> loaders.add(o.operatorLoader));
      assertThat(loaders).hasSize(1);

      // Every attempt created both sink writers, each with its own native client.
      Map<Integer, Set<Integer>> writers = AttemptSinkCounters.writers(REPORTER, id);
      assertThat(writers).hasSize(Job.FINAL_ATTEMPT + 1);
      assertThat(writers.values()).allMatch(s -> s.equals(Set.of(0, 1)));

      // The final attempt's data is all there, value by value.
      Samples expected = new Samples();
      for (long i = 0; i < Job.RECORDS; i++) {
        PrometheusTimeSeries r = Job.record(Job.FINAL_ATTEMPT, base, i);
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("__name__", Job.METRIC);
        for (PrometheusTimeSeries.Label l : r.getLabels()) {
          labels.put(l.getName(), l.getValue());
        }
        for (PrometheusTimeSeries.Sample s : r.getSamples()) {
          expected.add(labels, s.getTimestamp(), s.getValue());
        }
      }
      assertThat(prometheus.rawSamples(Job.selector(Job.FINAL_ATTEMPT), "1h").bySeries())
          .isEqualTo(expected.bySeries());
      Map<SinkCounter, Long> last = AttemptSinkCounters.of(REPORTER, id, Job.FINAL_ATTEMPT);
      assertThat(last.get(SinkCounter.SAMPLES_OUT)).isEqualTo(Job.RECORDS);
      assertThat(last.get(SinkCounter.SAMPLES_DROPPED)).isZero();
      assertThat(last.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED)).isZero();

      // The failed attempts wrote at least the records they waited for, at most the ones they
      // passed on (how many of the last 10 were sent before the failure is timing), and never
      // had anything rejected.
      long failedTotal = 0;
      for (int a = 0; a < Job.FINAL_ATTEMPT; a++) {
        Map<SinkCounter, Long> c = AttemptSinkCounters.of(REPORTER, id, a);
        assertThat(c.get(SinkCounter.SAMPLES_DROPPED)).as("attempt %d dropped", a).isZero();
        assertThat(c.get(SinkCounter.SAMPLES_OUT))
            .as("attempt %d written", a)
            .isLessThanOrEqualTo(Job.STORED_BEFORE_FAILING + Job.MORE_BEFORE_FAILING);
        long stored = prometheus.rawSamples(Job.selector(a), "1h").sampleCount();
        assertThat(stored)
            .as("attempt %d stored", a)
            .isBetween(
                Job.STORED_BEFORE_FAILING, Job.STORED_BEFORE_FAILING + Job.MORE_BEFORE_FAILING);
        failedTotal += stored;
      }

      // While each failed attempt ran, exactly its two writers' sender threads were alive (those
      // of the attempts before had ended), apart from any alive before the job.
      Map<Integer, List<String>> threadsSeen = new TreeMap<>();
      ClassLoaderProbe.threads(run)
          .forEach(
              (attempt, threads) ->
                  threadsSeen.put(
                      attempt,
                      threads.stream()
                          .filter(t -> !sendersBefore.contains(t))
                          .map(Thread::getName)
                          .sorted()
                          .collect(Collectors.toList())));
      assertThat(threadsSeen.keySet())
          .containsExactlyElementsOf(
              IntStream.range(0, Job.FINAL_ATTEMPT).boxed().collect(Collectors.toList()));
      // Two writers of Job.LANES lane threads each.
      assertThat(threadsSeen.values()).allMatch(names -> names.size() == 2 * Job.LANES);

      // No native sender thread outlives its writer (each close() joins its thread; the JVM may
      // take a moment to report a detached thread as terminated).
      Set<Thread> leftover =
          Waits.until(
              "no promsink-sender thread alive",
              Duration.ofSeconds(10),
              () -> {
                Set<Thread> now = senderThreads();
                now.removeAll(sendersBefore);
                return now;
              },
              Set::isEmpty);
      assertThat(leftover).isEmpty();

      // No library copy (or anything else named promsink-*) left in java.io.tmpdir. Another JVM
      // on the machine may extract its copy at this moment; such a copy is deleted at once.
      Set<String> newFiles =
          Waits.until(
              "no new promsink-* file in " + TMP,
              Duration.ofSeconds(5),
              () -> {
                Set<String> now = promsinkFiles();
                now.removeAll(filesBefore);
                return now;
              },
              Set::isEmpty);
      assertThat(newFiles).isEmpty();

      System.out.printf(
          "failover: %d attempts, %d user-code class loader(s), %d writers, final attempt %s,"
              + " %d samples stored by the failed attempts, sender threads seen %s%n",
          seen.size(),
          loaders.size(),
          writers.values().stream().mapToInt(Set::size).sum(),
          last,
          failedTotal,
          threadsSeen);
    } finally {
      ClassLoaderProbe.forget(run);
    }
  }
}
