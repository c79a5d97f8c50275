package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.promsink.flink.jni.SinkCounter;
import dev.promsink.flink.testing.FaultReceiver;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The default sink (12 lanes, adaptive) against a fast receiver with light traffic: the writer
 * narrows to one lane and then sends each batch as one request, instead of one request per lane.
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
  void aLightlyLoadedWriterNarrowsToOneLaneAndSendsWholeBatches() throws Exception {
    try (FaultReceiver receiver = FaultReceiver.start("", "204")) {
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(1);
      env.fromSequence(0, BURSTS * BATCH - 1)
          .map(new Bursts(SinkJobs.baseMs()))
          .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(
              PrometheusSink.builder().setPrometheusRemoteWriteUrl(receiver.writeUrl()).build());
      JobExecutionResult result = env.execute("adaptive lanes");

      JsonNode stats = receiver.stats();
      assertThat(stats.get("accepted_samples").asLong()).isEqualTo(BURSTS * BATCH);
      assertThat(stats.get("order_violations").asLong()).isZero();
      assertThat(activeLanes(result)).isEqualTo(1);

      // The first batches go out over all 12 lanes; once narrowed, one request per batch.
      List<Long> perRequest =
          receiver.requests().stream()
              .map(q -> q.get("samples").asLong())
              .collect(Collectors.toList());
      assertThat(perRequest.subList(perRequest.size() - 5, perRequest.size()))
          .containsOnly((long) BATCH);
      assertThat(perRequest.size()).isLessThan(BURSTS * 12 / 2);
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_OUT)).isEqualTo(perRequest.size());
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(BURSTS * BATCH);
    }
  }

  private static Object activeLanes(JobExecutionResult result) {
    Map<String, Metric> found = REPORTER.findMetrics(result.getJobID(), "activeSendingLanes");
    assertThat(found).hasSize(1);
    return ((Gauge<?>) found.values().iterator().next()).getValue();
  }
}
