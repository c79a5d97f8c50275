package dev.promsink.flink.aws;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.RemoteWriteVersion;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A real job on a MiniCluster writes through the connector with the signer to a receiver that
 * checks every request's signature with botocore: every attempt, retries included, is signed over
 * exactly the bytes and headers on the wire. Credentials come from the default chain (system
 * properties), with a session token.
 */
class SignedSinkEndToEndTest {
  static final String KEY = "AKIDPROMSINKE2E";
  static final String SECRET = "e2e/Secret+Key";
  static final String TOKEN = "e2e-Session-Token";
  static final String REGION = "ap-southeast-2";
  static final int SERIES = 3;
  static final int SAMPLES = 40;
  static final int BATCH = 20;

  @RegisterExtension
  static final MiniClusterExtension CLUSTER =
      new MiniClusterExtension(
          new MiniClusterResourceConfiguration.Builder()
              .setNumberTaskManagers(1)
              .setNumberSlotsPerTaskManager(1)
              .build());

  @Test
  void remoteWrite1RetriesAfter500AreSignedAfresh() throws Exception {
    Report r = run(RemoteWriteVersion.V1, SECRET, 3, 500);
    assertEverySignatureVerified(r, 3, 500, "application/x-protobuf", "0.1.0");
  }

  @Test
  void remoteWrite2RetriesAfter429AreSignedAfresh() throws Exception {
    Report r = run(RemoteWriteVersion.V2, SECRET, 2, 429);
    assertEverySignatureVerified(
        r, 2, 429, "application/x-protobuf;proto=io.prometheus.write.v2.Request", "2.0.0");
  }

  @Test
  void aWrongSecretIsDetected() throws Exception {
    Report r = run(RemoteWriteVersion.V1, "not-the-e2e-secret", 0, 500);
    // The receiver refuses every request with 403, as Amazon Managed Prometheus does; 403 fails
    // the job (how many batches went out before it stopped depends on timing).
    assertThat(r.failure).isNotNull();
    assertThat(r.report.requests.size()).isGreaterThanOrEqualTo(1);
    assertThat(r.report.failures())
        .hasSize(r.report.requests.size())
        .containsOnly("signature mismatch");
    assertThat(r.report.answered(403)).isEqualTo(r.report.requests.size());
    assertThat(r.report.samples).isEmpty();
    assertThat(stackTrace(r.failure)).doesNotContain(SECRET, TOKEN);
  }

  static String stackTrace(Throwable t) {
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    return w.toString();
  }

  /** The job's records: SERIES series of SAMPLES samples. */
  static List<PrometheusTimeSeries> records(long baseMs) {
    List<PrometheusTimeSeries> records = new ArrayList<>();
    for (int j = 0; j < SAMPLES; j++) {
      for (int i = 0; i < SERIES; i++) {
        records.add(
            PrometheusTimeSeries.builder()
                .withMetricName("signed_metric")
                .addLabel("device", "d" + i)
                .addSample(i + j / 4.0, baseMs + j * 1000L)
                .build());
      }
    }
    return records;
  }

  /** The samples as the receiver reports them: sorted labels, timestamp, value. */
  static List<String> expected(List<PrometheusTimeSeries> records) {
    List<String> out = new ArrayList<>();
    for (PrometheusTimeSeries r : records) {
      TreeMap<String, String> labels = new TreeMap<>();
      labels.put("__name__", r.getMetricName());
      for (PrometheusTimeSeries.Label l : r.getLabels()) {
        labels.put(l.getName(), l.getValue());
      }
      StringBuilder text = new StringBuilder();
      labels.forEach((n, v) -> text.append(text.length() == 0 ? "" : ",").append(n + "=" + v));
      for (PrometheusTimeSeries.Sample s : r.getSamples()) {
        out.add(text + " " + s.getTimestamp() + " " + s.getValue());
      }
    }
    return out;
  }

  /** What a run sent and what the receiver saw. */
  static final class Report {
    final List<String> expected;
    final SigV4Receiver.Report report;

    /** Why the job failed, or null. */
    final Exception failure;

    Report(List<String> expected, SigV4Receiver.Report report, Exception failure) {
      this.expected = expected;
      this.report = report;
      this.failure = failure;
    }
  }

  /**
   * Runs the job against a receiver verifying with {@code receiverSecret} that answers the first
   * {@code failFirst} requests {@code failStatus}; the signer signs with SECRET.
   */
  static Report run(
      RemoteWriteVersion version, String receiverSecret, int failFirst, int failStatus)
      throws Exception {
    List<PrometheusTimeSeries> records = records(System.currentTimeMillis() / 1000 * 1000);
    try (SystemCredentials c = new SystemCredentials(KEY, SECRET, TOKEN);
        SigV4Receiver receiver =
            new SigV4Receiver(KEY, receiverSecret, TOKEN, REGION, failFirst, failStatus)) {
      PrometheusSink sink =
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(receiver.writeUrl())
              .setRequestSigner(
                  new AmazonManagedPrometheusWriteRequestSigner(receiver.writeUrl(), REGION))
              .setRemoteWriteVersion(version)
              .setMaxBatchSizeInSamples(BATCH)
              .setSendingLanes(1)
              .build();
      StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
      env.setParallelism(1);
      env.fromData(records).sinkTo(sink);
      Exception failure = null;
      try {
        env.execute("promsink signed job");
      } catch (Exception e) {
        failure = e;
      }
      return new Report(expected(records), receiver.report(), failure);
    }
  }

  static void assertEverySignatureVerified(
      Report r, int failFirst, int failStatus, String contentType, String version) {
    assertThat(r.failure).isNull();
    SigV4Receiver.Report report = r.report;
    // Every request verified: the failFirst refused attempts and their retries too.
    assertThat(report.failures()).isEmpty();
    assertThat(report.answered(failStatus)).isEqualTo(failFirst);
    assertThat(report.answered(204)).isEqualTo(report.requests.size() - failFirst);
    // At least one batch per BATCH samples (more if the writer flushed a part early).
    assertThat(report.answered(204)).isGreaterThanOrEqualTo(SERIES * SAMPLES / BATCH);
    // Every sample arrived exactly once.
    assertThat(report.samples).containsExactlyInAnyOrderElementsOf(r.expected);
    for (JsonNode request : report.requests) {
      assertThat(request.get("contentType").asText()).isEqualTo(contentType);
      assertThat(request.get("version").asText()).isEqualTo(version);
      List<String> signed = new ArrayList<>();
      request.get("signedHeaders").forEach(h -> signed.add(h.asText()));
      assertThat(signed)
          .containsExactly(
              "content-encoding",
              "content-type",
              "host",
              "x-amz-content-sha256",
              "x-amz-date",
              "x-amz-security-token",
              "x-prometheus-remote-write-version");
    }
  }
}
