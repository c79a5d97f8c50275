package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.promsink.flink.PrometheusSinkConfiguration.OnErrorBehavior;
import dev.promsink.flink.PrometheusSinkConfiguration.RetryConfiguration;
import dev.promsink.flink.PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration;
import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.FaultReceiver;
import dev.promsink.flink.testing.LogCapture;
import dev.promsink.flink.testing.SinkCounters;
import dev.promsink.flink.testing.SinkJobs;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Faults a real server will not produce on demand (throttling, 5xx, resets, slowness, unreachable),
 * injected by the scripted receiver of {@code tests/receiver}, with a Flink MiniCluster job in
 * front. Every test asserts what reached the receiver, every counter, and whether the job failed or
 * continued.
 */
class FaultScenariosTest {
  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  private static RetryConfiguration retries(int count, long initialMs, long maxMs) {
    return RetryConfiguration.builder()
        .setMaxRetryCount(count)
        .setInitialRetryDelayMS(initialMs)
        .setMaxRetryDelayMS(maxMs)
        .build();
  }

  private static PrometheusSinkBuilder sink(String url) {
    return PrometheusSink.builder().setPrometheusRemoteWriteUrl(url);
  }

  /**
   * One lane, one batch in flight: every request is exactly one batch, so request-level figures
   * (waits between attempts, samples per failed request) are exact.
   */
  private static PrometheusSinkBuilder oneLane(String url) {
    return sink(url).setSendingLanes(1);
  }

  private static void assertCleanTraffic(JsonNode stats) {
    assertThat(stats.get("order_violations").asLong()).isZero();
    assertThat(stats.get("header_errors").asLong()).isZero();
    assertThat(stats.get("label_errors").asLong()).isZero();
    assertThat(stats.get("decode_errors").asLong()).isZero();
    assertThat(stats.get("problems")).isEmpty();
  }

  /** 429 without and with Retry-After (seconds and HTTP date), then 503: waits follow backoff. */
  @Test
  void throttlingIsRetriedWithBackoffAndRetryAfterUntilRecovery() throws Exception {
    List<PrometheusTimeSeries> records =
        SinkJobs.fleet("fault_throttled", 50, 4, SinkJobs.baseMs());
    try (FaultReceiver receiver =
        FaultReceiver.start("429*3,429:retry-after=1,503:retry-after=date+1,503*2", "204")) {
      JobExecutionResult result =
          SinkJobs.run(
              records,
              oneLane(receiver.writeUrl())
                  .setMaxBatchSizeInSamples(100)
                  .setRetryConfiguration(retries(10, 50, 2000))
                  .build(),
              1);

      assertThat(receiver.series()).isEqualTo(SinkJobs.expected(records).bySeries());
      JsonNode stats = receiver.stats();
      assertCleanTraffic(stats);
      assertThat(stats.get("statuses").get("429").asLong()).isEqualTo(4);
      assertThat(stats.get("statuses").get("503").asLong()).isEqualTo(3);
      assertThat(stats.get("accepted_samples").asLong()).isEqualTo(200);

      // The first batch met all seven refusals; the waits before each retry, measured by the
      // receiver, are at least: 50, 100, 200 (backoff), 1000 (Retry-After: 1), about 1000 (a
      // date one second ahead, at whole-second resolution: at least 1 ms), 800, 1600 (backoff).
      List<JsonNode> log = receiver.requests();
      long[] minimumWaits = {50, 100, 200, 1000, 1, 800, 1600};
      for (int i = 0; i < minimumWaits.length; i++) {
        long waited = log.get(i + 1).get("at_ms").asLong() - log.get(i).get("at_ms").asLong();
        assertThat(waited)
            .as("wait before retry %d", i + 1)
            .isGreaterThanOrEqualTo(minimumWaits[i]);
      }
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isEqualTo(7);
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(200);
      assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isZero();
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_OUT)).isEqualTo(2);
    }
  }

  /** Two writers in parallel against a throttling receiver: per-series order holds. */
  @Test
  void orderIsKeptPerSeriesWhileThrottledWithParallelism2() throws Exception {
    List<PrometheusTimeSeries> records =
        SinkJobs.fleet("fault_parallel", 300, 20, SinkJobs.baseMs());
    try (FaultReceiver receiver = FaultReceiver.start("429*5,503*5,204*3,429*5,500*5", "204")) {
      JobExecutionResult result =
          SinkJobs.run(
              records,
              sink(receiver.writeUrl()).setRetryConfiguration(retries(50, 5, 20)).build(),
              2);

      assertThat(receiver.series()).isEqualTo(SinkJobs.expected(records).bySeries());
      JsonNode stats = receiver.stats();
      assertCleanTraffic(stats);
      assertThat(stats.get("duplicate_timestamps").asLong()).isZero();
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isEqualTo(20);
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(6000);
    }
  }

  @Test
  void retryLimitWithFailFailsTheJobNamingEndpointStatusAndBody() throws Exception {
    List<PrometheusTimeSeries> records = SinkJobs.fleet("fault_fail", 5, 2, SinkJobs.baseMs());
    try (FaultReceiver receiver = FaultReceiver.start("", "503:body=overloaded, try later")) {
      assertThatThrownBy(
              () ->
                  SinkJobs.run(
                      records,
                      oneLane(receiver.writeUrl()).setRetryConfiguration(retries(2, 1, 1)).build(),
                      1))
          .rootCause()
          .isInstanceOf(PrometheusSinkWriteException.class)
          .hasMessage(
              "retry limit reached: "
                  + receiver.writeUrl()
                  + " answered HTTP 503 after 2 retries; 10 samples not written; response body:"
                  + " overloaded, try later")
          .satisfies(e -> assertStatusAndBody(e, 503, "overloaded, try later"));
      assertThat(receiver.stats().get("statuses").get("503").asLong()).isEqualTo(3);
      assertThat(receiver.stats().get("accepted_samples").asLong()).isZero();
    }
  }

  @Test
  void retryLimitWithDiscardDropsThatBatchCountsItAndContinues() throws Exception {
    List<PrometheusTimeSeries> records = SinkJobs.fleet("fault_discard", 10, 3, SinkJobs.baseMs());
    try (FaultReceiver receiver = FaultReceiver.start("503*3", "204");
        LogCapture log = new LogCapture(PrometheusSinkWriter.class)) {
      JobExecutionResult result =
          SinkJobs.run(
              records,
              oneLane(receiver.writeUrl())
                  .setMaxBatchSizeInSamples(10)
                  .setMaxBufferedRequests(100)
                  .setRetryConfiguration(retries(2, 1, 1))
                  .setErrorHandlingBehaviorConfiguration(
                      SinkWriterErrorHandlingBehaviorConfiguration.builder()
                          .onMaxRetryExceeded(OnErrorBehavior.DISCARD_AND_CONTINUE)
                          .build())
                  .build(),
              1);

      // The first batch (the first sample of every device) is dropped, the rest arrives.
      assertThat(receiver.series())
          .isEqualTo(SinkJobs.expected(records.subList(10, 30)).bySeries());
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.SAMPLES_RETRY_LIMIT_DROPPED)).isEqualTo(10);
      assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isEqualTo(10);
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED)).isEqualTo(1);
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isEqualTo(2);
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(20);
      assertThat(log.linesContaining("Dropped a write request: retry limit reached"))
          .containsExactly(
              "WARN Dropped a write request: retry limit reached: "
                  + receiver.writeUrl()
                  + " answered HTTP 503 after 2 retries; 10 samples not written; empty response"
                  + " body");
    }
  }

  @Test
  void connectionResetsAreRetried() throws Exception {
    List<PrometheusTimeSeries> records = SinkJobs.fleet("fault_reset", 20, 5, SinkJobs.baseMs());
    try (FaultReceiver receiver = FaultReceiver.start("reset*3", "204")) {
      JobExecutionResult result =
          SinkJobs.run(
              records,
              sink(receiver.writeUrl()).setRetryConfiguration(retries(5, 5, 20)).build(),
              1);

      assertThat(receiver.series()).isEqualTo(SinkJobs.expected(records).bySeries());
      assertThat(receiver.stats().get("statuses").get("reset").asLong()).isEqualTo(3);
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isEqualTo(3);
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(100);
    }
  }

  @Test
  void aServerSlowerThanTheSocketTimeoutIsRetriedNotWaitedFor() throws Exception {
    List<PrometheusTimeSeries> records = SinkJobs.fleet("fault_slow", 20, 5, SinkJobs.baseMs());
    try (FaultReceiver receiver = FaultReceiver.start("204:delay=2000*2", "204")) {
      long started = System.nanoTime();
      JobExecutionResult result =
          SinkJobs.run(
              records,
              sink(receiver.writeUrl())
                  .setSocketTimeoutMs(300)
                  .setRetryConfiguration(retries(5, 5, 20))
                  .build(),
              1);
      long elapsedMs = (System.nanoTime() - started) / 1_000_000;

      assertThat(receiver.series()).isEqualTo(SinkJobs.expected(records).bySeries());
      // The two slow answers came after the client had given up: not stored, never twice.
      assertThat(receiver.awaitStatusCount("abandoned", 2, 15_000)).isEqualTo(2);
      assertThat(receiver.stats().get("duplicate_timestamps").asLong()).isZero();
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isEqualTo(2);
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(100);
      // Two timeouts of 300 ms, not two waits of 2 s.
      assertThat(elapsedMs).isLessThan(4_000);
    }
  }

  @Test
  void anUnreachableEndpointIsRetriedThenFailsWithTheIoError() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String url = "http://127.0.0.1:" + port + "/api/v1/write";
    List<PrometheusTimeSeries> records =
        SinkJobs.fleet("fault_unreachable", 2, 1, SinkJobs.baseMs());
    assertThatThrownBy(
            () ->
                SinkJobs.run(
                    records, oneLane(url).setRetryConfiguration(retries(3, 1, 5)).build(), 1))
        .rootCause()
        .isInstanceOf(PrometheusSinkWriteException.class)
        .hasMessageStartingWith("retry limit reached: no answer from " + url + " after 3 retries (")
        .hasMessageContaining("2 samples not written")
        .satisfies(e -> assertStatusAndBody(e, 0, ""));
  }

  /** The exception carries the last answer's status and body as fields (0 and "" for none). */
  private static void assertStatusAndBody(Throwable e, int status, String body) {
    PrometheusSinkWriteException write = (PrometheusSinkWriteException) e;
    assertThat(write.getHttpStatusCode()).isEqualTo(status);
    assertThat(write.getHttpResponseBody()).isEqualTo(body);
  }
}
