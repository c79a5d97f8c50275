package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.AttemptSinkCounters;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.Samples;
import dev.promsink.flink.testing.SequenceGate;
import dev.promsink.flink.testing.SinkJobs;
import dev.promsink.flink.testing.Waits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongPredicate;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job writing to a real Prometheus is restarted from a checkpoint after a failure, and stopped
 * with a savepoint and started again from it: nothing is lost, Prometheus holds every sample once
 * with its value and timestamp, and the samples Flink replays after a restore (which Prometheus
 * already has) are dropped as non-retryable and counted, without failing the job.
 *
 * <p>Record {@code i} of a test is one series ({@code series="s<i mod 10>"}) with two samples, at
 * {@code base + (i / 10) s} and 500 ms later, valued {@code i + 0.25} and {@code i + 0.75}: every
 * series' samples are in time order along the stream. The source (parallelism 1, so its order is
 * the stream's order) is a {@code DataGeneratorSource} of indices, which checkpoints its position;
 * a {@link SequenceGate} lets each test decide how far it reads. A {@code keyBy} on the series
 * sends each series to one of two sink subtasks.
 *
 * <p>Why the restart tests let the first attempt fail only once Prometheus holds everything it
 * read: Prometheus (2.42, Remote-Write 1.0) rejects a whole request with 400 when one sample of it
 * is older than the newest sample stored for its series, and stores nothing of that request. A
 * batch mixing replayed samples with samples it never stored therefore loses the new ones (the sink
 * counts them as dropped). So each test makes the failure (and, after the restore, the switch from
 * replayed to new data) happen at points where no batch can mix the two; the replay then is exactly
 * the data read after the restored checkpoint plus the sink entries restored from it.
 */
class CheckpointRestoreTest {
  private static final int SERIES = 10;
  private static final int SAMPLES_PER_RECORD = 2;
  private static final int MAX_PARALLELISM = 128;
  private static final int SINK_PARALLELISM = 2;
  private static final Duration WAIT = Duration.ofSeconds(60);

  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  static PrometheusTimeSeries record(String metric, long base, long i) {
    long ts = base + (i / SERIES) * 1000L;
    return PrometheusTimeSeries.builder()
        .withMetricName(metric)
        .addLabel("series", "s" + (i % SERIES))
        .addSample(i + 0.25, ts)
        .addSample(i + 0.75, ts + 500)
        .build();
  }

  /** The samples of records {@code from} (inclusive) to {@code to} accepted by {@code which}. */
  static Samples expected(String metric, long base, long from, long to, LongPredicate which) {
    Samples s = new Samples();
    for (long i = from; i < to; i++) {
      if (!which.test(i)) {
        continue;
      }
      PrometheusTimeSeries r = record(metric, base, i);
      Map<String, String> labels = new LinkedHashMap<>();
      labels.put("__name__", metric);
      for (PrometheusTimeSeries.Label l : r.getLabels()) {
        labels.put(l.getName(), l.getValue());
      }
      for (PrometheusTimeSeries.Sample x : r.getSamples()) {
        s.add(labels, x.getTimestamp(), x.getValue());
      }
    }
    return s;
  }

  /** The sink subtask (of 2) the key selector sends record {@code i} to. */
  static int subtaskOf(String metric, long base, long i) {
    Integer key =
        new PrometheusTimeSeriesLabelsAndMetricNameKeySelector().getKey(record(metric, base, i));
    return KeyGroupRangeAssignment.assignKeyToParallelOperator(
        key, MAX_PARALLELISM, SINK_PARALLELISM);
  }

  static long baseMs() {
    return (System.currentTimeMillis() - 30 * 60_000L) / 1000 * 1000;
  }

  /** Turns indices into records; fails once, in attempt 0, on index {@code failAt}. */
  static final class ToSeries extends RichMapFunction<Long, PrometheusTimeSeries>
      implements CheckpointedFunction, CheckpointListener {
    private static final long serialVersionUID = 1L;
    private final String gateName;
    private final String metric;
    private final long base;
    private final long failAt;
    private transient SequenceGate gate;
    private transient int attempt;
    private transient long position;

    ToSeries(String gateName, String metric, long base, long failAt) {
      this.gateName = gateName;
      this.metric = metric;
      this.base = base;
      this.failAt = failAt;
    }

    @Override
    public void open(OpenContext openContext) {
      gate = SequenceGate.named(gateName);
      attempt = getRuntimeContext().getTaskInfo().getAttemptNumber();
      gate.attemptStarted(attempt);
    }

    @Override
    public PrometheusTimeSeries map(Long index) {
      if (attempt == 0 && index == failAt) {
        throw new IllegalStateException("planned failure of attempt 0 at index " + index);
      }
      position = index + 1;
      return record(metric, base, index);
    }

    /** Chained to the source: the indices read so far are the source's position. */
    @Override
    public void snapshotState(FunctionSnapshotContext context) {
      gate.snapshotTaken(context.getCheckpointId(), position);
    }

    @Override
    public void initializeState(FunctionInitializationContext context) {}

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
      gate.checkpointCompleted(checkpointId);
    }
  }

  private static StreamExecutionEnvironment environment() {
    Configuration conf = new Configuration();
    conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
    conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(100));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    env.setParallelism(SINK_PARALLELISM);
    env.setMaxParallelism(MAX_PARALLELISM);
    return env;
  }

  /** indices (gated) -> records (failing once at {@code failAt}) -> keyBy -> 2 sink writers. */
  private static void buildJob(
      StreamExecutionEnvironment env,
      SequenceGate gate,
      String gateName,
      RateLimiterStrategy rate,
      long records,
      String metric,
      long base,
      long failAt,
      PrometheusSink sink) {
    env.fromSource(
            new DataGeneratorSource<>(gate.generator(), records, rate, Types.LONG),
            WatermarkStrategy.noWatermarks(),
            "indices")
        .setParallelism(1)
        .uid("indices")
        .map(new ToSeries(gateName, metric, base, failAt))
        .setParallelism(1)
        .uid("to-series")
        .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
        .sinkTo(new RestoreRecordingSink(gateName, sink))
        .uid("prometheus-sink");
  }

  private static Map<SinkCounter, Long> counters(JobID job, int attempt) {
    return AttemptSinkCounters.of(REPORTER, job, attempt);
  }

  private static long answered(JobID job, int attempt) {
    Map<SinkCounter, Long> c = counters(job, attempt);
    return c.get(SinkCounter.SAMPLES_OUT) + c.get(SinkCounter.SAMPLES_DROPPED);
  }

  private static List<RestoreRecordingSink.Writer> writersOfAttempt(String name, int attempt) {
    return RestoreRecordingSink.writers(name).stream()
        .filter(w -> w.attempt == attempt)
        .collect(Collectors.toList());
  }

  private static void cancelIfRunning(JobClient job) {
    try {
      if (!job.getJobStatus().get(10, TimeUnit.SECONDS).isGloballyTerminalState()) {
        job.cancel().get(30, TimeUnit.SECONDS);
      }
    } catch (Exception ignored) {
      // the job is gone already, or the cluster is shutting down
    }
  }

  // 60 rounds of 10 series: 600 records, 1200 samples. The first attempt fails at record 400.
  private static final long RECORDS = 600;
  private static final long FAIL_AT = 400;

  /** One lane: request counts below are per batch (state restore is what is tested here). */
  private static PrometheusSink restartSink(String url) {
    return PrometheusSink.builder()
        .setPrometheusRemoteWriteUrl(url)
        .setMaxBatchSizeInSamples(40)
        .setMaxTimeInBufferMS(50)
        .setSendingLanes(1)
        .build();
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void restartFromPeriodicCheckpointsKeepsEverySampleAndCountsTheReplay() throws Exception {
    String metric = "ckpt_periodic_value";
    String name = metric + "-" + System.nanoTime();
    long base = baseMs();
    SequenceGate gate = SequenceGate.create(name);
    // Attempt 0 (reader generation 1) reads [0, 400) paced at 400 records/s, across several
    // checkpoints, and does not read past 200 before a checkpoint with a position above 0 has
    // completed, so the restart is from a checkpoint and not from the beginning.
    gate.setLimit(1, FAIL_AT);
    gate.requireCheckpointFrom(FAIL_AT / 2);
    // Attempt 1 (generation 2) replays up to 400, then waits until the sink has answered the
    // replay.
    gate.setLimit(2, FAIL_AT);

    try (PrometheusServer prometheus = new PrometheusServer()) {
      StreamExecutionEnvironment env = environment();
      env.enableCheckpointing(200);
      // The limit is enforced by the generator, which blocks the source's thread at index 400: no
      // checkpoint is taken after that, so the restored position is (usually) below 400 and there
      // is something to replay.
      buildJob(
          env,
          gate,
          name,
          gate.rateLimiter(400, false),
          RECORDS,
          metric,
          base,
          FAIL_AT,
          restartSink(prometheus.writeUrl()));
      JobClient job = env.executeAsync("promsink periodic checkpoint restart");
      try {
        JobID id = job.getJobID();
        Waits.untilEquals(
            "attempt 0 read [0, 400)", WAIT, () -> gate.generation() + ":" + gate.next(), "1:400");
        Waits.untilEquals(
            "samples of records [0, 400) in Prometheus",
            WAIT,
            () -> prometheus.rawSamples(metric, "1h").sampleCount(),
            (int) FAIL_AT * SAMPLES_PER_RECORD);
        // Every request of attempt 0 answered: nothing is in flight when it fails.
        Waits.untilEquals(
            "attempt 0 numSamplesOut",
            WAIT,
            () -> counters(id, 0).get(SinkCounter.SAMPLES_OUT),
            FAIL_AT * SAMPLES_PER_RECORD);
        long completedBeforeFailure = gate.completedPosition();

        gate.setLimit(1, FAIL_AT + 1); // index 400 reaches ToSeries, which fails attempt 0

        long restoredPosition =
            Waits.until(
                "attempt 1 read its first index", WAIT, () -> gate.firstIndex(2), Objects::nonNull);
        List<RestoreRecordingSink.Writer> restored =
            Waits.until(
                "both sink writers of attempt 1 created",
                WAIT,
                () -> writersOfAttempt(name, 1),
                w -> w.size() == SINK_PARALLELISM);
        long restoredSamples = restored.stream().mapToLong(w -> w.samples).sum();
        // Replayed: the source's records from the checkpoint's position up to 400, and the sink
        // entries buffered at that checkpoint. Attempt 0 had written all of them.
        long replayed = (FAIL_AT - restoredPosition) * SAMPLES_PER_RECORD + restoredSamples;
        Waits.untilEquals("attempt 1 answered the replay", WAIT, () -> answered(id, 1), replayed);

        // New data only now, so no batch mixes it with the replay. (No limit at all rather than
        // 600: the source only learns that its input has ended by reading once more.)
        gate.setLimit(2, Long.MAX_VALUE);
        JobExecutionResult result = job.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.FINISHED);
        assertThat(result.getJobID()).isEqualTo(id);
        assertThat(gate.attempts()).containsExactly(0, 1);

        // Exactly every sample, once, with its value and timestamp.
        assertThat(prometheus.rawSamples(metric, "1h").bySeries())
            .isEqualTo(expected(metric, base, 0, RECORDS, i -> true).bySeries());

        // Timing decides which checkpoint was the last before the failure, so the restored
        // position and the restored sink entries are only bounded: a checkpoint with a position
        // above 0 had completed, the position is at most 400 (nothing past 400 was read), and a
        // writer can have buffered at most what it had received.
        assertThat(restoredPosition).isBetween(Math.max(1, completedBeforeFailure), FAIL_AT);
        assertThat(restored).allMatch(w -> w.restored);
        assertThat(restoredSamples)
            .isBetween(0L, restoredPosition * SAMPLES_PER_RECORD)
            .isEqualTo(restored.stream().mapToLong(w -> w.entries).sum() * SAMPLES_PER_RECORD);

        assertCounters(id, replayed);
        System.out.printf(
            "periodic: restored position %d (last completed seen %d), restored sink samples %d,"
                + " replayed samples %d, attempt 0 %s, attempt 1 %s%n",
            restoredPosition,
            completedBeforeFailure,
            restoredSamples,
            replayed,
            counters(id, 0),
            counters(id, 1));
      } finally {
        cancelIfRunning(job);
      }
    } finally {
      gate.remove();
    }
  }

  /**
   * The same restart, but the only checkpoint is triggered by the test at a known point (periodic
   * checkpointing is off), so the replay, and every counter, is exact.
   */
  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void restartFromACheckpointAtAKnownPointGivesExactCounts(@InjectMiniCluster MiniCluster cluster)
      throws Exception {
    String metric = "ckpt_known_value";
    String name = metric + "-" + System.nanoTime();
    long base = baseMs();
    long checkpointAt = 200;
    SequenceGate gate = SequenceGate.create(name);
    gate.setLimit(1, checkpointAt);
    gate.setLimit(2, FAIL_AT);

    try (PrometheusServer prometheus = new PrometheusServer()) {
      StreamExecutionEnvironment env = environment();
      // Non-blocking limit: the source idles at the limit and can take the checkpoint there.
      buildJob(
          env,
          gate,
          name,
          gate.rateLimiter(0, true),
          RECORDS,
          metric,
          base,
          FAIL_AT,
          restartSink(prometheus.writeUrl()));
      JobClient job = env.executeAsync("promsink known checkpoint restart");
      try {
        JobID id = job.getJobID();
        Waits.untilEquals(
            "attempt 0 read [0, 200)", WAIT, () -> gate.generation() + ":" + gate.next(), "1:200");
        Waits.untilEquals(
            "samples of records [0, 200) in Prometheus",
            WAIT,
            () -> prometheus.rawSamples(metric, "1h").sampleCount(),
            (int) checkpointAt * SAMPLES_PER_RECORD);
        // Everything read was sent, so the checkpoint holds position 200 and empty sink buffers.
        cluster.triggerCheckpoint(id).get(60, TimeUnit.SECONDS);
        Waits.untilEquals(
            "checkpoint position reported", WAIT, gate::completedPosition, checkpointAt);

        gate.setLimit(1, FAIL_AT);
        Waits.untilEquals(
            "attempt 0 read [0, 400)", WAIT, () -> gate.generation() + ":" + gate.next(), "1:400");
        Waits.untilEquals(
            "samples of records [0, 400) in Prometheus",
            WAIT,
            () -> prometheus.rawSamples(metric, "1h").sampleCount(),
            (int) FAIL_AT * SAMPLES_PER_RECORD);
        Waits.untilEquals(
            "attempt 0 numSamplesOut",
            WAIT,
            () -> counters(id, 0).get(SinkCounter.SAMPLES_OUT),
            FAIL_AT * SAMPLES_PER_RECORD);

        gate.setLimit(1, FAIL_AT + 1); // index 400 fails attempt 0

        long restoredPosition =
            Waits.until(
                "attempt 1 read its first index", WAIT, () -> gate.firstIndex(2), Objects::nonNull);
        List<RestoreRecordingSink.Writer> restored =
            Waits.until(
                "both sink writers of attempt 1 created",
                WAIT,
                () -> writersOfAttempt(name, 1),
                w -> w.size() == SINK_PARALLELISM);
        assertThat(restoredPosition).isEqualTo(checkpointAt);
        assertThat(restored).allMatch(w -> w.restored && w.entries == 0);

        // Records [200, 400), written by attempt 0, are replayed: 400 samples.
        long replayed = (FAIL_AT - checkpointAt) * SAMPLES_PER_RECORD;
        Waits.untilEquals("attempt 1 answered the replay", WAIT, () -> answered(id, 1), replayed);
        gate.setLimit(2, Long.MAX_VALUE);

        job.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.FINISHED);
        assertThat(gate.attempts()).containsExactly(0, 1);
        assertThat(prometheus.rawSamples(metric, "1h").bySeries())
            .isEqualTo(expected(metric, base, 0, RECORDS, i -> true).bySeries());
        assertCounters(id, replayed);
        assertThat(counters(id, 1).get(SinkCounter.SAMPLES_DROPPED)).isEqualTo(400L);
        System.out.printf(
            "known checkpoint: attempt 0 %s, attempt 1 %s%n", counters(id, 0), counters(id, 1));
      } finally {
        cancelIfRunning(job);
      }
    } finally {
      gate.remove();
    }
  }

  /** The counters both restart tests must show, given the samples replayed after the restore. */
  private static void assertCounters(JobID id, long replayed) {
    // Attempt 0 wrote records [0, 400): 800 samples, nothing dropped.
    Map<SinkCounter, Long> first = counters(id, 0);
    assertThat(first.get(SinkCounter.SAMPLES_OUT)).isEqualTo(FAIL_AT * SAMPLES_PER_RECORD);
    assertThat(first.get(SinkCounter.SAMPLES_DROPPED)).isZero();
    assertThat(first.get(SinkCounter.SAMPLES_NON_RETRYABLE_DROPPED)).isZero();
    assertThat(first.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED)).isZero();
    assertThat(first.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isZero();
    // 800 samples in requests of at most 40 (20 records): at least 20 requests.
    assertThat(first.get(SinkCounter.WRITE_REQUESTS_OUT)).isBetween(20L, FAIL_AT);

    // Attempt 1: every replayed entry holds a sample older than the newest one Prometheus has for
    // its series, so every request of the replay is answered 400 and counted as non-retryable;
    // records [400, 600) are new: 400 samples written.
    Map<SinkCounter, Long> second = counters(id, 1);
    long fresh = (RECORDS - FAIL_AT) * SAMPLES_PER_RECORD;
    assertThat(second.get(SinkCounter.SAMPLES_OUT)).isEqualTo(fresh);
    assertThat(second.get(SinkCounter.SAMPLES_NON_RETRYABLE_DROPPED)).isEqualTo(replayed);
    assertThat(second.get(SinkCounter.SAMPLES_DROPPED)).isEqualTo(replayed);
    assertThat(second.get(SinkCounter.SAMPLES_RETRY_LIMIT_DROPPED)).isZero();
    assertThat(second.get(SinkCounter.SAMPLES_INVALID_DROPPED)).isZero();
    assertThat(second.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isZero();
    // How the replay was cut into requests depends on timing (the 50 ms buffer timer): each
    // rejected request held 1 to 20 entries of 2 samples.
    assertThat(second.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED))
        .isBetween((replayed + 39) / 40, replayed / 2);
    assertThat(second.get(SinkCounter.WRITE_REQUESTS_OUT)).isBetween(fresh / 40, fresh / 2);
  }

  /**
   * Job 1 reads records [0, 330) and stops with a savepoint while entries sit in the sink's buffer
   * (batches of 20 records, a 10 minute buffer timer). Job 2 starts from the savepoint with the
   * same uids: the buffered entries come back from the writer state and are sent first, then the
   * source continues at 330. Everything here is deterministic, so every count is exact.
   */
  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void stopWithSavepointAndRestoreSendsTheBufferedEntriesThenContinues(@TempDir Path savepoints)
      throws Exception {
    String metric = "savepoint_value";
    String name = metric + "-" + System.nanoTime();
    long base = baseMs();
    long stopAt = 330;
    int batchRecords = 20;
    SequenceGate gate = SequenceGate.create(name);
    gate.setLimit(1, stopAt); // job 1; job 2 (generation 2) is unlimited

    // What the key selector sends to each writer, in order, and what a writer of batches of 20
    // has sent once it has received its records: whole batches; the rest stays buffered.
    Map<Integer, List<Long>> job1Records = new HashMap<>();
    Map<Integer, List<Long>> allRecords = new HashMap<>();
    for (long i = 0; i < RECORDS; i++) {
      int subtask = subtaskOf(metric, base, i);
      allRecords.computeIfAbsent(subtask, s -> new ArrayList<>()).add(i);
      if (i < stopAt) {
        job1Records.computeIfAbsent(subtask, s -> new ArrayList<>()).add(i);
      }
    }
    Map<Integer, Integer> sentRecords = new HashMap<>();
    Map<Integer, Integer> bufferedRecords = new HashMap<>();
    Set<Long> sentByJob1 = new HashSet<>();
    for (int s = 0; s < SINK_PARALLELISM; s++) {
      List<Long> mine = job1Records.getOrDefault(s, List.of());
      int sent = mine.size() / batchRecords * batchRecords;
      sentRecords.put(s, sent);
      bufferedRecords.put(s, mine.size() - sent);
      sentByJob1.addAll(mine.subList(0, sent));
    }
    // The data is chosen so that both writers have sent batches and hold a partial one.
    assertThat(sentRecords.values()).allMatch(n -> n > 0);
    assertThat(bufferedRecords.values()).allMatch(n -> n > 0);
    long sentTotal = sentByJob1.size();

    try (PrometheusServer prometheus = new PrometheusServer()) {
      PrometheusSink sink =
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
              .setMaxBatchSizeInSamples(batchRecords * SAMPLES_PER_RECORD)
              .setMaxTimeInBufferMS(600_000)
              .setSendingLanes(1) // request counts below are per batch
              .build();

      StreamExecutionEnvironment env1 = environment();
      buildJob(env1, gate, name, gate.rateLimiter(0, true), RECORDS, metric, base, -1, sink);
      JobClient job1 = env1.executeAsync("promsink savepoint, job 1");
      String savepoint;
      try {
        JobID id1 = job1.getJobID();
        Waits.untilEquals(
            "job 1 read [0, 330)", WAIT, () -> gate.generation() + ":" + gate.next(), "1:330");
        Waits.untilEquals(
            "job 1's whole batches in Prometheus",
            WAIT,
            () -> prometheus.rawSamples(metric, "1h").sampleCount(),
            (int) sentTotal * SAMPLES_PER_RECORD);
        Waits.untilEquals(
            "job 1 numSamplesOut",
            WAIT,
            () -> counters(id1, 0).get(SinkCounter.SAMPLES_OUT),
            sentTotal * SAMPLES_PER_RECORD);

        savepoint =
            job1.stopWithSavepoint(
                    false, savepoints.toUri().toString(), SavepointFormatType.CANONICAL)
                .get(60, TimeUnit.SECONDS);
        job1.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        assertThat(job1.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.FINISHED);

        // Stopping did not flush the buffers: Prometheus has exactly the whole batches.
        assertThat(prometheus.rawSamples(metric, "1h").bySeries())
            .isEqualTo(expected(metric, base, 0, stopAt, sentByJob1::contains).bySeries());
        Map<SinkCounter, Long> c1 = counters(id1, 0);
        assertThat(c1.get(SinkCounter.SAMPLES_OUT)).isEqualTo(sentTotal * SAMPLES_PER_RECORD);
        assertThat(c1.get(SinkCounter.WRITE_REQUESTS_OUT)).isEqualTo(sentTotal / batchRecords);
        assertThat(c1.get(SinkCounter.SAMPLES_DROPPED)).isZero();
        assertThat(c1.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED)).isZero();
        assertThat(c1.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isZero();
      } finally {
        cancelIfRunning(job1);
      }

      StreamExecutionEnvironment env2 = environment();
      buildJob(env2, gate, name, gate.rateLimiter(0, true), RECORDS, metric, base, -1, sink);
      StreamGraph graph = env2.getStreamGraph();
      graph.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(savepoint, false));
      JobClient job2 = env2.executeAsync(graph);
      try {
        JobID id2 = job2.getJobID();
        job2.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        assertThat(job2.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.FINISHED);

        // The source continued where job 1 stopped ...
        assertThat(gate.firstIndex(2)).isEqualTo(stopAt);
        // ... and each writer got back exactly the entries it had buffered.
        List<RestoreRecordingSink.Writer> writers = RestoreRecordingSink.writers(name);
        assertThat(writers).hasSize(2 * SINK_PARALLELISM);
        for (RestoreRecordingSink.Writer w : writers.subList(0, SINK_PARALLELISM)) {
          assertThat(w.restored).isFalse();
        }
        for (RestoreRecordingSink.Writer w : writers.subList(SINK_PARALLELISM, writers.size())) {
          assertThat(w.restored).isTrue();
          assertThat(w.entries).isEqualTo(bufferedRecords.get(w.subtask));
          assertThat(w.samples)
              .isEqualTo((long) bufferedRecords.get(w.subtask) * SAMPLES_PER_RECORD);
        }

        // Every sample exactly once: all of them are stored, job 2 wrote the rest, nothing was
        // dropped (an out-of-order write would have been rejected and counted).
        assertThat(prometheus.rawSamples(metric, "1h").bySeries())
            .isEqualTo(expected(metric, base, 0, RECORDS, i -> true).bySeries());
        Map<SinkCounter, Long> c2 = counters(id2, 0);
        assertThat(c2.get(SinkCounter.SAMPLES_OUT))
            .isEqualTo((RECORDS - sentTotal) * SAMPLES_PER_RECORD);
        assertThat(
                c2.get(SinkCounter.SAMPLES_OUT)
                    + counters(job1.getJobID(), 0).get(SinkCounter.SAMPLES_OUT))
            .isEqualTo(RECORDS * SAMPLES_PER_RECORD);
        assertThat(c2.get(SinkCounter.SAMPLES_DROPPED)).isZero();
        assertThat(c2.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED)).isZero();
        assertThat(c2.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isZero();
        // Job 2's writers send their restored entries plus their new records in whole batches
        // of 20, and the remainder at the end of the input.
        long requests = 0;
        for (int s = 0; s < SINK_PARALLELISM; s++) {
          long toSend = allRecords.get(s).size() - sentRecords.get(s);
          requests += (toSend + batchRecords - 1) / batchRecords;
        }
        assertThat(c2.get(SinkCounter.WRITE_REQUESTS_OUT)).isEqualTo(requests);
        System.out.printf(
            "savepoint: per writer sent %s, buffered %s; job 1 %s; job 2 %s%n",
            sentRecords, bufferedRecords, counters(job1.getJobID(), 0), c2);
      } finally {
        cancelIfRunning(job2);
      }
    } finally {
      gate.remove();
    }
  }
}
