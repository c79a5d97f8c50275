package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.LogCapture;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.SinkCounters;
import dev.promsink.flink.testing.SinkJobs;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Remote-Write 2.0 against real receivers: Prometheus 3 writes what it can of a request holding a
 * replay (what a restore from a checkpoint sends) and the sink counts exactly the refused samples,
 * where Remote-Write 1.0 loses the fresh samples of the request too; Prometheus 2.42, which does
 * not speak 2.0, gets every sample as 1.0.
 */
class RemoteWrite2Test {
  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  private static PrometheusTimeSeries sample(String metric, int device, long timestamp) {
    return PrometheusTimeSeries.builder()
        .withMetricName(metric)
        .addLabel("device", "d" + device)
        .addSample(device * 10 + timestamp % 100_000 / 1000.0, timestamp)
        .build();
  }

  /** One request per batch of ten: one lane, batches of ten samples. */
  private static PrometheusSink sink(String url, RemoteWriteVersion version) {
    return PrometheusSink.builder()
        .setPrometheusRemoteWriteUrl(url)
        .setMaxBatchSizeInSamples(10)
        .setMaxBufferedRequests(100)
        .setSendingLanes(1)
        .setRemoteWriteVersion(version)
        .build();
  }

  /** Devices 0-4 at base and base + 1 s: what was stored before a restore. */
  private static List<PrometheusTimeSeries> stored(String metric, long base) {
    List<PrometheusTimeSeries> records = new ArrayList<>();
    for (int d = 0; d < 5; d++) {
      records.add(sample(metric, d, base));
      records.add(sample(metric, d, base + 1000));
    }
    return records;
  }

  /** One batch: devices 0-4 replayed at base (older than what is stored), 5-9 fresh. */
  private static List<PrometheusTimeSeries> replayAndFresh(String metric, long base) {
    List<PrometheusTimeSeries> records = new ArrayList<>();
    for (int d = 0; d < 10; d++) {
      records.add(sample(metric, d, base));
    }
    return records;
  }

  private static void assertCounters(
      JobExecutionResult job, long out, long requestsOut, long refused, long failedRequests) {
    Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, job.getJobID());
    assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(out);
    assertThat(counters.get(SinkCounter.WRITE_REQUESTS_OUT)).isEqualTo(requestsOut);
    assertThat(counters.get(SinkCounter.SAMPLES_NON_RETRYABLE_DROPPED)).isEqualTo(refused);
    assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isEqualTo(refused);
    assertThat(counters.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED))
        .isEqualTo(failedRequests);
    assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isZero();
  }

  @Test
  void prometheus3WritesTheFreshSamplesOfARequestWithAReplayAndOnlyTheReplayIsCounted()
      throws Exception {
    long base = SinkJobs.baseMs();
    String metric = "rw2_replay";
    try (PrometheusServer prometheus = PrometheusServer.version3();
        LogCapture log = new LogCapture(PrometheusSinkWriter.class)) {
      String url = prometheus.writeUrl();
      JobExecutionResult first =
          SinkJobs.run(stored(metric, base), sink(url, RemoteWriteVersion.V2), 1);
      assertCounters(first, 10, 1, 0, 0);

      JobExecutionResult second =
          SinkJobs.run(replayAndFresh(metric, base), sink(url, RemoteWriteVersion.V2), 1);
      // Prometheus 3 answered 400 "out of order sample" with Samples-Written: 5.
      assertCounters(second, 5, 1, 5, 1);

      List<PrometheusTimeSeries> expected = stored(metric, base);
      for (int d = 5; d < 10; d++) {
        expected.add(sample(metric, d, base));
      }
      assertThat(prometheus.rawSamples(metric, "1h").bySeries())
          .isEqualTo(SinkJobs.expected(expected).bySeries());
      assertThat(log.lines())
          .singleElement()
          .asString()
          .startsWith(
              "WARN Dropped a write request: non-retryable answer: "
                  + url
                  + " answered HTTP 400 after 0 retries; 5 of 10 samples not written (the"
                  + " receiver wrote 5); response body: ")
          .contains("out of order sample");
    }
  }

  @Test
  void remoteWrite1LosesTheFreshSamplesOfTheSameRequestOnPrometheus3() throws Exception {
    long base = SinkJobs.baseMs();
    String metric = "rw1_replay";
    try (PrometheusServer prometheus = PrometheusServer.version3()) {
      String url = prometheus.writeUrl();
      SinkJobs.run(stored(metric, base), sink(url, RemoteWriteVersion.V1), 1);
      JobExecutionResult second =
          SinkJobs.run(replayAndFresh(metric, base), sink(url, RemoteWriteVersion.V1), 1);
      // The whole request was rolled back: the five fresh samples are gone, and counted.
      assertCounters(second, 0, 0, 10, 1);
      assertThat(prometheus.rawSamples(metric, "1h").bySeries())
          .isEqualTo(SinkJobs.expected(stored(metric, base)).bySeries());
    }
  }

  @Test
  void aReceiverThatDoesNotSpeakRemoteWrite2GetsEverySampleAs1WithOneWarning() throws Exception {
    long base = SinkJobs.baseMs();
    String metric = "rw2_fallback";
    List<PrometheusTimeSeries> records = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      records.addAll(stored(metric, base + i * 2000L));
    }
    try (PrometheusServer prometheus = new PrometheusServer();
        LogCapture log = new LogCapture(PrometheusSinkWriter.class)) {
      String url = prometheus.writeUrl();
      JobExecutionResult job = SinkJobs.run(records, sink(url, RemoteWriteVersion.V2), 1);
      // Prometheus 2.42 answered the first 2.0 request 204 without Samples-Written (it stored
      // nothing): that request went again as 1.0, and every later one as 1.0.
      assertCounters(job, 40, 4, 0, 0);
      assertThat(prometheus.rawSamples(metric, "1h").bySeries())
          .isEqualTo(SinkJobs.expected(records).bySeries());
      assertThat(log.lines())
          .containsExactly(
              "WARN "
                  + url
                  + " answered a Remote-Write 2.0 request with HTTP 204 without"
                  + " X-Prometheus-Remote-Write-Samples-Written: it does not speak 2.0, so nothing"
                  + " of it counts as written; sending Remote-Write 1.0 from now on"
                  + " (setRemoteWriteVersion(V1) says so from the start)");
    }
  }
}
