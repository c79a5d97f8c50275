package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.SequenceGate;
import dev.promsink.flink.testing.SinkCounters;
import dev.promsink.flink.testing.SinkJobs;
import dev.promsink.flink.testing.Waits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job using Apache's Prometheus connector 1.0.0 (the jar of {@code shared/baselines}, on the
 * classpath of the {@code bench} profile only, hence this test's place in the bench sources) stops
 * with a savepoint while records sit in its sink's buffer; the same job with promsink's sink (same
 * uids) restores from that savepoint. The records Apache's sink had buffered come back from its
 * writer state and reach Prometheus through promsink, then the source continues: every sample is
 * stored once and nothing is dropped. One sink subtask, so that the restored buffer and the new
 * records of a series share one writer (with several, the key selectors' different hashes could
 * send a series' new records to another writer than its restored ones: docs/migration.md).
 *
 * <p>Run: {@code mvn -Pbench -pl java/flink-1.20 -am test -Dtest=ApacheSavepointRestoreTest
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class ApacheSavepointRestoreTest {
  private static final long RECORDS = 600;
  private static final long STOP_AT = 330;
  private static final int BATCH_SAMPLES = 40;
  private static final Duration WAIT = Duration.ofSeconds(60);

  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  /** Record {@code i} of {@link CheckpointRestoreTest#record} as Apache's record type. */
  static final class ToApacheSeries
      implements MapFunction<
          Long, org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries> {
    private static final long serialVersionUID = 1L;
    private final String metric;
    private final long base;

    ToApacheSeries(String metric, long base) {
      this.metric = metric;
      this.base = base;
    }

    @Override
    public org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries map(Long i) {
      PrometheusTimeSeries r = CheckpointRestoreTest.record(metric, base, i);
      org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.Builder b =
          org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.builder()
              .withMetricName(r.getMetricName());
      for (PrometheusTimeSeries.Label l : r.getLabels()) {
        b.addLabel(l.getName(), l.getValue());
      }
      for (PrometheusTimeSeries.Sample s : r.getSamples()) {
        b.addSample(s.getValue(), s.getTimestamp());
      }
      return b.build();
    }
  }

  private static DataStream<Long> indices(StreamExecutionEnvironment env, SequenceGate gate) {
    return env.fromSource(
            new DataGeneratorSource<>(
                gate.generator(), RECORDS, gate.rateLimiter(0, true), Types.LONG),
            WatermarkStrategy.noWatermarks(),
            "indices")
        .uid("indices");
  }

  private static StreamExecutionEnvironment environment() {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(1);
    env.setMaxParallelism(128);
    return env;
  }

  private static void cancelIfRunning(JobClient job) {
    try {
      if (!job.getJobStatus().get(10, TimeUnit.SECONDS).isGloballyTerminalState()) {
        job.cancel().get(30, TimeUnit.SECONDS);
      }
    } catch (Exception ignored) {
      // the job is gone already
    }
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void aSavepointOfApachesSinkRestoresIntoPromsinkWithItsBufferedRecords(@TempDir Path savepoints)
      throws Exception {
    String metric = "apache_savepoint_value";
    String name = metric + "-" + System.nanoTime();
    long base = CheckpointRestoreTest.baseMs();
    SequenceGate gate = SequenceGate.create(name);
    gate.setLimit(1, STOP_AT); // job 1 reads [0, 330); job 2 (generation 2) the rest
    try (PrometheusServer prometheus = new PrometheusServer()) {
      // Job 1: Apache's sink, its buffer timer far away, so what is not a whole batch stays.
      StreamExecutionEnvironment env1 = environment();
      Sink<org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries> apacheSink =
          org.apache.flink.connector.prometheus.sink.PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
              .setMaxBatchSizeInSamples(BATCH_SAMPLES)
              .setMaxTimeInBufferMS(600_000)
              .build();
      indices(env1, gate)
          .map(new ToApacheSeries(metric, base))
          .uid("to-series")
          .keyBy(
              new org.apache.flink.connector.prometheus.sink
                  .PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(apacheSink)
          .uid("prometheus-sink");
      JobClient job1 = env1.executeAsync("Apache's sink, then a savepoint");
      String savepoint;
      long sentByApache;
      try {
        Waits.untilEquals(
            "job 1 read [0, 330)", WAIT, () -> gate.generation() + ":" + gate.next(), "1:330");
        // The sink task runs (a savepoint needs every task running) once it has written.
        Waits.until(
            "Apache's sink wrote its first batch",
            WAIT,
            () -> prometheus.rawSamples(metric, "1h").sampleCount(),
            n -> n > 0);
        savepoint =
            job1.stopWithSavepoint(
                    false, savepoints.toUri().toString(), SavepointFormatType.CANONICAL)
                .get(60, TimeUnit.SECONDS);
        job1.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        assertThat(job1.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.FINISHED);
      } finally {
        cancelIfRunning(job1);
      }
      // Apache's sink sent whole batches, in order, from one writer; the rest is in the savepoint.
      int stored = prometheus.rawSamples(metric, "1h").sampleCount();
      assertThat(stored % 2).isZero();
      sentByApache = stored / 2;
      assertThat(sentByApache).isBetween(1L, STOP_AT - 1);
      long sent = sentByApache;
      assertThat(prometheus.rawSamples(metric, "1h").bySeries())
          .isEqualTo(
              CheckpointRestoreTest.expected(metric, base, 0, STOP_AT, i -> i < sent).bySeries());

      // Job 2: the same graph and uids with promsink's sink, from Apache's savepoint.
      StreamExecutionEnvironment env2 = environment();
      PrometheusSink sink =
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
              .setMaxBatchSizeInSamples(BATCH_SAMPLES)
              .setSendingLanes(1)
              .build();
      indices(env2, gate)
          .map(new CheckpointRestoreTest.ToSeries(name, metric, base, -1))
          .uid("to-series")
          .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(new RestoreRecordingSink(name, sink))
          .uid("prometheus-sink");
      StreamGraph graph = env2.getStreamGraph();
      graph.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(savepoint, false));
      JobClient job2 = env2.executeAsync(graph);
      try {
        job2.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        assertThat(job2.getJobStatus().get(10, TimeUnit.SECONDS)).isEqualTo(JobStatus.FINISHED);

        assertThat(gate.firstIndex(2)).isEqualTo(STOP_AT);
        List<RestoreRecordingSink.Writer> writers = RestoreRecordingSink.writers(name);
        assertThat(writers).hasSize(1);
        assertThat(writers.get(0).restored).isTrue();
        assertThat(writers.get(0).entries).isEqualTo((int) (STOP_AT - sent));
        assertThat(writers.get(0).samples).isEqualTo(2 * (STOP_AT - sent));

        assertThat(prometheus.rawSamples(metric, "1h").bySeries())
            .isEqualTo(
                CheckpointRestoreTest.expected(metric, base, 0, RECORDS, i -> true).bySeries());
        Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, job2.getJobID());
        assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(2 * (RECORDS - sent));
        assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isZero();
        assertThat(counters.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED)).isZero();
        System.out.printf(
            "Apache's sink sent %d records and buffered %d into its savepoint; promsink restored"
                + " them and sent %s%n",
            sent,
            STOP_AT - sent,
            counters.entrySet().stream()
                .map(e -> e.getKey().metricName() + "=" + e.getValue())
                .collect(Collectors.joining(", ")));
      } finally {
        cancelIfRunning(job2);
      }
    } finally {
      gate.remove();
    }
  }
}
