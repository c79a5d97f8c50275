package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.Samples;
import dev.promsink.flink.testing.SinkCounters;
import dev.promsink.flink.testing.SinkJobs;
import dev.promsink.flink.testing.VictoriaMetricsServer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Flink MiniCluster jobs (source, keyBy, sink with parallelism 2) writing through the native core
 * into a real Prometheus and a real VictoriaMetrics, read back value by value.
 */
class EndToEndTest {
  private static final int SERIES = 1000;
  private static final int SAMPLES_PER_SERIES = 20;

  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  private static List<PrometheusTimeSeries> fleet(String metric, long baseMs) {
    return SinkJobs.fleet(metric, SERIES, SAMPLES_PER_SERIES, baseMs);
  }

  private static Samples expected(List<PrometheusTimeSeries> records) {
    return SinkJobs.expected(records);
  }

  private static JobExecutionResult run(List<PrometheusTimeSeries> records, String url)
      throws Exception {
    return SinkJobs.run(
        records, PrometheusSink.builder().setPrometheusRemoteWriteUrl(url).build(), 2);
  }

  private static long baseMs() {
    return SinkJobs.baseMs();
  }

  @Test
  void everySampleArrivesInPrometheusWithItsValueAndTimestamp() throws Exception {
    List<PrometheusTimeSeries> records = fleet("e2e_temperature", baseMs());
    try (PrometheusServer prometheus = new PrometheusServer()) {
      JobExecutionResult result = run(records, prometheus.writeUrl());

      Samples stored = prometheus.rawSamples("e2e_temperature", "1h");
      assertThat(stored.bySeries()).hasSize(SERIES);
      assertThat(stored.sampleCount()).isEqualTo(SERIES * SAMPLES_PER_SERIES);
      assertThat(stored.bySeries()).isEqualTo(expected(records).bySeries());

      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(SERIES * SAMPLES_PER_SERIES);
      assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isZero();
      assertThat(counters.get(SinkCounter.SAMPLES_INVALID_DROPPED)).isZero();
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_PERMANENTLY_FAILED)).isZero();
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_RETRIES)).isZero();
      // 20,000 samples in batches of at most 500: at least 40 requests.
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_OUT)).isGreaterThanOrEqualTo(40);
    }
  }

  @Test
  void invalidSeriesAreDroppedAloneAndCounted() throws Exception {
    long base = baseMs();
    List<PrometheusTimeSeries> good = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      good.add(
          PrometheusTimeSeries.builder()
              .withMetricName("e2e_mixed")
              .addLabel("device", "d" + i)
              .addSample(i, base)
              .addSample(i + 0.5, base + 1000)
              .build());
    }
    List<PrometheusTimeSeries> bad = new ArrayList<>();
    bad.add(ts("e2e-bad-name").addLabel("device", "x").addSample(1, base).build());
    bad.add(
        ts("e2e_mixed").addLabel("device", "a").addLabel("device", "b").addSample(1, base).build());
    bad.add(
        ts("e2e_mixed").addLabel("device", "").addSample(1, base).addSample(2, base + 1).build());
    bad.add(ts(null).addLabel("device", "y").addSample(1, base).build());
    bad.add(ts("e2e_mixed").addLabel("__tenant", "t").addSample(1, base).build());
    bad.add(ts("e2e_mixed").addLabel("9lives", "t").addSample(1, base).build());
    List<PrometheusTimeSeries> all = new ArrayList<>(good);
    for (int i = 0; i < bad.size(); i++) {
      all.add(2 * i + 1, bad.get(i));
    }

    try (PrometheusServer prometheus = new PrometheusServer()) {
      JobExecutionResult result = run(all, prometheus.writeUrl());

      Samples stored = prometheus.rawSamples("{__name__=~\"e2e.*\"}", "1h");
      assertThat(stored.bySeries()).isEqualTo(expected(good).bySeries());
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(20);
      assertThat(counters.get(SinkCounter.SAMPLES_INVALID_DROPPED)).isEqualTo(7);
      assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isEqualTo(7);
      assertThat(counters.get(SinkCounter.SAMPLES_NON_RETRYABLE_DROPPED)).isZero();
    }
  }

  @Test
  void aRecordLargerThanTheMaxRecordSizeIsSplitNotRejected() throws Exception {
    long base = baseMs();
    PrometheusTimeSeries.Builder big = ts("e2e_big").addLabel("device", "d1");
    for (int i = 0; i < 25; i++) {
      big.addSample(i * 2.0, base + i * 1000L);
    }
    List<PrometheusTimeSeries> records = List.of(big.build());
    try (PrometheusServer prometheus = new PrometheusServer()) {
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(1);
      env.fromData(records)
          .sinkTo(
              PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
                  .setMaxBatchSizeInSamples(10)
                  .setMaxBufferedRequests(100)
                  .build());
      JobExecutionResult result = env.execute("promsink split");

      assertThat(prometheus.rawSamples("e2e_big", "1h").bySeries())
          .isEqualTo(expected(records).bySeries());
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(25);
      // 10 + 10 + 5 samples: three requests.
      assertThat(counters.get(SinkCounter.WRITE_REQUESTS_OUT)).isEqualTo(3);
    }
  }

  @Test
  void everySampleArrivesInVictoriaMetrics() throws Exception {
    List<PrometheusTimeSeries> records = fleet("e2e_battery", baseMs());
    try (VictoriaMetricsServer vm = new VictoriaMetricsServer()) {
      JobExecutionResult result = run(records, vm.writeUrl());

      Samples stored = vm.rawSamples("e2e_battery");
      assertThat(stored.sampleCount()).isEqualTo(SERIES * SAMPLES_PER_SERIES);
      assertThat(stored.bySeries()).isEqualTo(expected(records).bySeries());
      Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, result.getJobID());
      assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(SERIES * SAMPLES_PER_SERIES);
      assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isZero();
    }
  }

  private static PrometheusTimeSeries.Builder ts(String metric) {
    return PrometheusTimeSeries.builder().withMetricName(metric);
  }
}
