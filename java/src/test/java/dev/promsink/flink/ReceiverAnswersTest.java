package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.promsink.flink.PrometheusSinkConfiguration.RetryConfiguration;
import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.FaultReceiver;
import dev.promsink.flink.testing.LogCapture;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.SinkCounters;
import dev.promsink.flink.testing.SinkJobs;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What real receivers answer to data they refuse, and a receiver that refuses for a long time. */
class ReceiverAnswersTest {
  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  private static PrometheusTimeSeries sample(int device, double value, long timestamp) {
    return PrometheusTimeSeries.builder()
        .withMetricName("answers_out_of_order")
        .addLabel("device", "d" + device)
        .addSample(value, timestamp)
        .build();
  }

  /**
   * Prometheus answers 400 "out of order sample" to a request holding samples older than what it
   * has: that request is dropped with a WARN carrying the body, and the job goes on.
   */
  @Test
  void outOfOrderSamplesAreDroppedWithTheBodyLoggedAndTheJobContinues() throws Exception {
    long base = SinkJobs.baseMs();
    List<PrometheusTimeSeries> first = new ArrayList<>();
    List<PrometheusTimeSeries> older = new ArrayList<>();
    List<PrometheusTimeSeries> later = new ArrayList<>();
    for (int d = 0; d < 5; d++) {
      first.add(sample(d, d, base + 10_000));
      older.add(sample(d, 100 + d, base + 5_000));
      later.add(sample(d, 200 + d, base + 20_000));
    }
    List<PrometheusTimeSeries> records = new ArrayList<>(first);
    records.addAll(older);
    records.addAll(later);
    try (PrometheusServer prometheus = new PrometheusServer();
        LogCapture log = new LogCapture(PrometheusSinkWriter.class)) {
      // Batches of five samples: the in-order batch, the older batch, the later batch, each one
      // request (one lane, one batch in flight). With more lanes the older samples could share a
      // request with the newer ones they follow, which Prometheus 2.42 accepts as one append.
      JobExecutionResult result =
          SinkJobs.run(
              records,
              PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
                  .setMaxBatchSizeInSamples(5)
                  .setMaxBufferedRequests(100)
                  .setSendingLanes(1)
                  .build(),
              1);

      List<PrometheusTimeSeries> stored = new ArrayList<>(first);
      stored.addAll(later);
      assertThat(prometheus.rawSamples("answers_out_of_order", "1h").bySeries())
          .isEqualTo(SinkJobs.expected(stored).bySeries());
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(10);
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_OUT)).isEqualTo(2);
      assertThat(counters.get(SinkCounter.SAMPLES_NON_RETRYABLE_DROPPED)).isEqualTo(5);
      assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isEqualTo(5);
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED)).isEqualTo(1);
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isZero();
      assertThat(log.lines())
          .singleElement()
          .asString()
          .startsWith(
              "WARN Dropped a write request: non-retryable answer: "
                  + prometheus.writeUrl()
                  + " answered HTTP 400 after 0 retries; 5 samples not written; response body: ")
          .contains("out of order sample");
    }
  }

  /** Counts the records the source has emitted, to see back-pressure reach it. */
  private static final AtomicLong EMITTED = new AtomicLong();

  /**
   * Retry for ever against a receiver that refuses everything for 3 s: the source is held back
   * (Flink's bounded buffers fill and back-pressure reaches it), nothing is lost once the receiver
   * recovers, and every refusal was one retry.
   */
  @Test
  void retryingForeverBackPressuresTheSourceAndLosesNothing() throws Exception {
    int series = 1000;
    int samples = 100;
    long total = (long) series * samples;
    long base = SinkJobs.baseMs();
    EMITTED.set(0);
    try (FaultReceiver receiver = FaultReceiver.start("503:for=3000", "204")) {
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(2);
      env.fromSequence(0, total - 1)
          .setParallelism(1)
          .map(
              n -> {
                EMITTED.incrementAndGet();
                int device = (int) (n % series);
                long j = n / series;
                return PrometheusTimeSeries.builder()
                    .withMetricName("answers_throttled")
                    .addLabel("device", "d" + device)
                    .addSample(device + j / 4.0, base + j * 1000)
                    .build();
              })
          .setParallelism(1)
          .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(
              PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(receiver.writeUrl())
                  .setRetryConfiguration(
                      RetryConfiguration.builder()
                          .setMaxRetryCount(Integer.MAX_VALUE)
                          .setInitialRetryDelayMS(10)
                          .setMaxRetryDelayMS(100)
                          .build())
                  .build());
      JobClient job = env.executeAsync("promsink retry forever");
      Thread.sleep(2000);
      long emittedWhileRefused = EMITTED.get();
      JobExecutionResult result = job.getJobExecutionResult().get(120, TimeUnit.SECONDS);

      // Held back: the source emitted only what Flink's bounded buffers hold.
      assertThat(emittedWhileRefused).isLessThan(total / 2);
      JsonNode stats = receiver.stats();
      assertThat(stats.get("accepted_samples").asLong()).isEqualTo(total);
      assertThat(stats.get("order_violations").asLong()).isZero();
      assertThat(stats.get("duplicate_timestamps").asLong()).isZero();
      assertThat(stats.get("series").asLong()).isEqualTo(series);
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(total);
      assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isZero();
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES))
          .isEqualTo(stats.get("statuses").get("503").asLong())
          .isGreaterThan(10);
      System.out.printf(
          "retry-forever: source emitted %d of %d records while refused; %d retries%n",
          emittedWhileRefused, total, counters.get(SinkCounter.WRITE_REQUESTS_RETRIES));
    }
  }
}
