package dev.promsink.flink.testing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.GeneratorFunction;

/**
 * Lets a test decide how far a {@code DataGeneratorSource} of indices 0, 1, 2, ... may read, across
 * the restarts of a job and across jobs restored from a savepoint, in one JVM (MiniCluster tasks
 * share the test's classes, so the gates are static, found by name).
 *
 * <p>Each reader the source opens is a new <em>generation</em> (1 for the first attempt of the
 * first job, 2 after the first restart or for the job restored from a savepoint, ...). A generation
 * emits index {@code i} only while {@code i} is below its limit, which the test raises step by
 * step. Two mechanisms enforce it:
 *
 * <ul>
 *   <li>{@link #generator()} blocks the source's task thread before emitting an index at or above
 *       the limit (always correct, but no checkpoint can be taken at the source meanwhile);
 *   <li>{@link #rateLimiter(double, boolean)} withholds the next record without blocking, so the
 *       source stays idle and checkpoints and savepoints go on; it knows the next index only after
 *       the generation's first record, the blocking generator covers that first one.
 * </ul>
 *
 * <p>Operators of the job report the attempts they run in, checkpoint positions and completions.
 */
public final class SequenceGate {
  private static final Map<String, SequenceGate> GATES = new ConcurrentHashMap<>();
  private static final long MAX_BLOCK_MS = 60_000;

  private final String name;
  private final Map<Integer, Long> limits = new HashMap<>();
  private final Map<Integer, Long> firstIndex = new HashMap<>();
  private final Set<Integer> attempts = new TreeSet<>();
  private final Map<Long, Long> snapshotPositions = new HashMap<>();
  private final List<Waiter> waiting = new ArrayList<>();
  private int generation;
  private long next = -1;
  private long completedPosition = -1;
  private long checkpointRequiredFrom = Long.MAX_VALUE;

  private SequenceGate(String name) {
    this.name = name;
  }

  /** A new gate under {@code name} (replacing any earlier one), every generation unlimited. */
  public static SequenceGate create(String name) {
    SequenceGate gate = new SequenceGate(name);
    GATES.put(name, gate);
    return gate;
  }

  public static SequenceGate named(String name) {
    SequenceGate gate = GATES.get(name);
    if (gate == null) {
      throw new IllegalStateException("no sequence gate " + name);
    }
    return gate;
  }

  /** Forgets the gate, releasing anything still waiting on it. */
  public void remove() {
    GATES.remove(name, this);
    List<Waiter> release;
    synchronized (this) {
      limits.replaceAll((g, l) -> Long.MAX_VALUE);
      checkpointRequiredFrom = Long.MAX_VALUE;
      release = new ArrayList<>(waiting);
      waiting.clear();
      notifyAll();
    }
    release.forEach(w -> w.future.complete(null));
  }

  /**
   * Generation {@code gen} may emit indices below {@code limit}. To let a bounded source finish,
   * use {@link Long#MAX_VALUE}, not its size: a rate limiter enforcing the limit would also hold
   * the read after the last index, the one that tells the source its input has ended.
   */
  public void setLimit(int gen, long limit) {
    synchronized (this) {
      limits.put(gen, limit);
      notifyAll();
    }
    release();
  }

  /**
   * The rate limiter holds index {@code index} and later ones until a checkpoint whose source
   * position is above 0 has completed, so that a restore is from a checkpoint, not from the start.
   */
  public synchronized void requireCheckpointFrom(long index) {
    checkpointRequiredFrom = index;
  }

  /** Readers opened so far: the current generation. */
  public synchronized int generation() {
    return generation;
  }

  /** The next index the current generation emits, or -1 before its first. */
  public synchronized long next() {
    return next;
  }

  /** The first index generation {@code gen} asked to emit (its restored position), or null. */
  public synchronized Long firstIndex(int gen) {
    return firstIndex.get(gen);
  }

  /** Attempt numbers reported by {@link #attemptStarted}. */
  public synchronized Set<Integer> attempts() {
    return new TreeSet<>(attempts);
  }

  /** Source position of the latest completed checkpoint reported, or -1. */
  public synchronized long completedPosition() {
    return completedPosition;
  }

  /** An operator of the job runs in attempt {@code attempt}. */
  public synchronized void attemptStarted(int attempt) {
    attempts.add(attempt);
  }

  /**
   * An operator chained to the source took checkpoint {@code id} at source position {@code pos}.
   */
  public synchronized void snapshotTaken(long id, long position) {
    snapshotPositions.put(id, position);
  }

  /** Checkpoint {@code id} completed. */
  public void checkpointCompleted(long id) {
    synchronized (this) {
      Long position = snapshotPositions.get(id);
      if (position != null) {
        completedPosition = Math.max(completedPosition, position);
      }
    }
    release();
  }

  /** A generator function emitting indices through this gate (blocking at the limit). */
  public GeneratorFunction<Long, Long> generator() {
    return new GatedIndices(name);
  }

  /**
   * A rate limiter strategy pacing the source at {@code recordsPerSecond} (0: no pacing), holding
   * records until the checkpoint required by {@link #requireCheckpointFrom} has completed and, if
   * {@code enforceLimit}, while the generation's next index is at its limit.
   */
  public RateLimiterStrategy rateLimiter(double recordsPerSecond, boolean enforceLimit) {
    return new GateRateLimiterStrategy(name, recordsPerSecond, enforceLimit);
  }

  private synchronized int readerOpened() {
    generation++;
    next = -1;
    return generation;
  }

  private long limit(int gen) {
    return limits.getOrDefault(gen, Long.MAX_VALUE);
  }

  private void awaitPermit(int gen, long index) throws InterruptedException {
    synchronized (this) {
      firstIndex.putIfAbsent(gen, index);
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MAX_BLOCK_MS);
      while (index >= limit(gen)) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          throw new IllegalStateException(
              "sequence gate " + name + ": index " + index + " not released in time");
        }
        wait(left);
      }
      if (gen == generation) {
        next = index + 1;
      }
    }
    release();
  }

  private synchronized boolean allowed(boolean enforceLimit) {
    if (next < 0) {
      return true;
    }
    if (enforceLimit && next >= limit(generation)) {
      return false;
    }
    return next < checkpointRequiredFrom || completedPosition > 0;
  }

  private CompletableFuture<Void> permitNext(boolean enforceLimit) {
    synchronized (this) {
      if (!allowed(enforceLimit)) {
        Waiter later = new Waiter(enforceLimit);
        waiting.add(later);
        return later.future;
      }
    }
    return CompletableFuture.completedFuture(null);
  }

  /** Completes (outside the lock) the rate limiters' waits that are now allowed. */
  private void release() {
    List<Waiter> release = new ArrayList<>();
    synchronized (this) {
      for (Waiter w : waiting) {
        if (allowed(w.enforceLimit)) {
          release.add(w);
        }
      }
      waiting.removeAll(release);
    }
    release.forEach(w -> w.future.complete(null));
  }

  private static final class Waiter {
    final CompletableFuture<Void> future = new CompletableFuture<>();
    final boolean enforceLimit;

    Waiter(boolean enforceLimit) {
      this.enforceLimit = enforceLimit;
    }
  }

  private static final class GatedIndices implements GeneratorFunction<Long, Long> {
    private static final long serialVersionUID = 1L;
    private final String gateName;
    private transient SequenceGate gate;
    private transient int gen;

    GatedIndices(String gateName) {
      this.gateName = gateName;
    }

    @Override
    public void open(SourceReaderContext readerContext) {
      gate = named(gateName);
      gen = gate.readerOpened();
    }

    @Override
    public Long map(Long index) throws Exception {
      gate.awaitPermit(gen, index);
      return index;
    }
  }

  private static final class GateRateLimiterStrategy implements RateLimiterStrategy {
    private static final long serialVersionUID = 1L;
    private final String gateName;
    private final double recordsPerSecond;
    private final boolean enforceLimit;

    GateRateLimiterStrategy(String gateName, double recordsPerSecond, boolean enforceLimit) {
      this.gateName = gateName;
      this.recordsPerSecond = recordsPerSecond;
      this.enforceLimit = enforceLimit;
    }

    @Override
    public RateLimiter createRateLimiter(int parallelism) {
      RateLimiter pacer =
          recordsPerSecond > 0
              ? RateLimiterStrategy.perSecond(recordsPerSecond).createRateLimiter(parallelism)
              : null;
      return new GateRateLimiter(pacer, named(gateName), enforceLimit);
    }
  }

  /**
   * One permit per record. Flink 1.20's rate limiter asks with {@code acquire()}, Flink 2's with
   * {@code acquire(int)} (its {@code acquire()} asks for one): this answers both.
   */
  @SuppressWarnings({"rawtypes", "unchecked"})
  private static final class GateRateLimiter implements RateLimiter {
    private final RateLimiter pacer;
    private final SequenceGate gate;
    private final boolean enforceLimit;

    GateRateLimiter(RateLimiter pacer, SequenceGate gate, boolean enforceLimit) {
      this.pacer = pacer;
      this.gate = gate;
      this.enforceLimit = enforceLimit;
    }

    @Override
    public CompletionStage<Void> acquire() {
      if (pacer == null) {
        return gate.permitNext(enforceLimit);
      }
      return pacer.acquire().thenCompose(ignored -> gate.permitNext(enforceLimit));
    }

    public CompletionStage<Void> acquire(int records) {
      if (records != 1) {
        throw new UnsupportedOperationException("the gate permits one record at a time");
      }
      return acquire();
    }
  }
}
