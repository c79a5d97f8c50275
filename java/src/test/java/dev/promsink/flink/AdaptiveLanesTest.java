package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.FaultReceiver;
import dev.promsink.flink.testing.LogCapture;
import dev.promsink.flink.testing.SinkCounters;
import dev.promsink.flink.testing.SinkJobs;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.logging.log4j.Level;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The default sink (up to 12 lanes, adaptive). Light traffic to a fast receiver keeps one lane: one
 * request per batch, as Apache's connector sends. A distant receiver under full load makes the
 * writer double its lanes, with every series still in order.
 */
class AdaptiveLanesTest {
  private static final int BURSTS = 12;
  private static final int BATCH = 500;

  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  /** Emits records as they come, pausing 300 ms before every burst of one batch. */
  private static final class Bursts implements MapFunction<Long, PrometheusTimeSeries> {
    private final long baseMs;

    Bursts(long baseMs) {
      this.baseMs = baseMs;
    }

    @Override
    public PrometheusTimeSeries map(Long n) throws Exception {
      if (n % BATCH == 0) {
        Thread.sleep(300);
      }
      return PrometheusTimeSeries.builder()
          .withMetricName("adaptive")
          .addLabel("device", "d" + (n % 100))
          .addSample(n, baseMs + n)
          .build();
    }
  }

  @Test
  void lightTrafficKeepsOneLaneAndSendsEachBatchAsOneRequest() throws Exception {
    try (FaultReceiver receiver = FaultReceiver.start("", "204");
        LogCapture log = new LogCapture(PrometheusSinkWriter.class, Level.INFO)) {
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(1);
      env.fromSequence(0, BURSTS * BATCH - 1)
          .map(new Bursts(SinkJobs.baseMs()))
          .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(
              PrometheusSink.builder().setPrometheusRemoteWriteUrl(receiver.writeUrl()).build());
      JobExecutionResult result = env.execute("adaptive lanes, light traffic");

      JsonNode stats = receiver.stats();
      assertThat(stats.get("accepted_samples").asLong()).isEqualTo(BURSTS * BATCH);
      assertThat(stats.get("order_violations").asLong()).isZero();
      List<Long> perRequest =
          receiver.requests().stream()
              .map(q -> q.get("samples").asLong())
              .collect(Collectors.toList());
      assertThat(perRequest).hasSize(BURSTS).containsOnly((long) BATCH);
      assertThat(activeLanes(result)).isEqualTo(1);
      assertThat(log.linesContaining("Sending lanes in use")).isEmpty();
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_OUT)).isEqualTo(BURSTS);
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(BURSTS * BATCH);
    }
  }

  @Test
  void aDistantReceiverUnderFullLoadDoublesTheLanesAndKeepsOrder() throws Exception {
    long samples = 100_000;
    try (FaultReceiver receiver = FaultReceiver.start("", "204:delay=50");
        LogCapture log = new LogCapture(PrometheusSinkWriter.class, Level.INFO)) {
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(1);
      long base = SinkJobs.baseMs();
      env.fromSequence(0, samples - 1)
          .map(
              n ->
                  PrometheusTimeSeries.builder()
                      .withMetricName("distant")
                      .addLabel("device", "d" + (n % 1000))
                      .addSample(n, base + n)
                      .build())
          .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(
              PrometheusSink.builder().setPrometheusRemoteWriteUrl(receiver.writeUrl()).build());
      JobExecutionResult result = env.execute("adaptive lanes, distant receiver");

      JsonNode stats = receiver.stats();
      assertThat(stats.get("accepted_samples").asLong()).isEqualTo(samples);
      assertThat(stats.get("order_violations").asLong()).isZero();
      // Saturated lanes (every request full, more pending): 1 -> 2 -> 4 -> 8, step by step.
      assertThat(log.linesContaining("Sending lanes in use"))
          .anyMatch(l -> l.contains("1 -> 2"))
          .anyMatch(l -> l.contains("2 -> 4"))
          .anyMatch(l -> l.contains("4 -> 8"));
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(samples);
    }
  }

  private static Object activeLanes(JobExecutionResult result) {
    Map<String, Metric> found = REPORTER.findMetrics(result.getJobID(), "activeSendingLanes");
    assertThat(found).hasSize(1);
    return ((Gauge<?>) found.values().iterator().next()).getValue();
  }
}
