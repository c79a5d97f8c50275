package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.promsink.flink.PrometheusSinkConfiguration.RetryConfiguration;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.Samples;
import dev.promsink.flink.testing.SinkJobs;
import dev.promsink.flink.testing.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** HTTPS to a real Prometheus serving a certificate from a test CA. */
class TlsEndToEndTest {
  @RegisterExtension static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(null);

  private static void run(List<PrometheusTimeSeries> records, PrometheusSink sink)
      throws Exception {
    SinkJobs.run(records, sink, 2);
  }

  @Test
  void writesOverHttpsTrustingTheConfiguredCa(@TempDir Path dir) throws Exception {
    TestCertificates certificates = TestCertificates.create(dir);
    List<PrometheusTimeSeries> records =
        SinkJobs.fleet("tls_temperature", 1000, 20, SinkJobs.baseMs());
    try (PrometheusServer prometheus = new PrometheusServer(certificates)) {
      assertThat(prometheus.writeUrl()).startsWith("https://127.0.0.1:");
      run(
          records,
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
              .setTlsCaCertificateFile(certificates.caCertificate.toString())
              .build());
      Samples stored = prometheus.rawSamples("tls_temperature", "1h");
      assertThat(stored.bySeries()).isEqualTo(SinkJobs.expected(records).bySeries());
    }
  }

  @Test
  void anUntrustedCertificateFailsTheJobWithATlsError(@TempDir Path dir) throws Exception {
    Path served = Files.createDirectory(dir.resolve("served"));
    Path other = Files.createDirectory(dir.resolve("other"));
    TestCertificates certificates = TestCertificates.create(served);
    TestCertificates otherCa = TestCertificates.create(other);
    List<PrometheusTimeSeries> records =
        List.of(
            PrometheusTimeSeries.builder()
                .withMetricName("tls_untrusted")
                .addSample(1, SinkJobs.baseMs())
                .build());
    try (PrometheusServer prometheus = new PrometheusServer(certificates)) {
      PrometheusSink sink =
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
              .setTlsCaCertificateFile(otherCa.caCertificate.toString())
              .setRetryConfiguration(
                  RetryConfiguration.builder()
                      .setMaxRetryCount(1)
                      .setInitialRetryDelayMS(1)
                      .setMaxRetryDelayMS(1)
                      .build())
              .build();
      assertThatThrownBy(() -> run(records, sink))
          .rootCause()
          .isInstanceOf(PrometheusSinkWriteException.class)
          .hasMessageStartingWith(
              "fatal: no answer from " + prometheus.writeUrl() + " after 0 retries")
          .hasMessageContaining("invalid peer certificate");
      assertThat(prometheus.rawSamples("tls_untrusted", "1h").sampleCount()).isZero();
    }
  }
}
