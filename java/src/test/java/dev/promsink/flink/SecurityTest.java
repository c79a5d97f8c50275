package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.FaultReceiver;
import dev.promsink.flink.testing.LogCapture;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.SinkCounters;
import dev.promsink.flink.testing.SinkJobs;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.logging.log4j.Level;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Authentication against a real Prometheus with basic auth, bearer tokens and 403 against the
 * scripted receiver, and a request signer verified by the receiver: failures fail the job naming
 * endpoint and status, and no credential ever shows in an exception or a log line.
 */
class SecurityTest {
  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  private static final String WRONG_PASSWORD = "wrong-Pa55word-42";
  private static final String TOKEN = "tok-3f9a1c";

  private static List<PrometheusTimeSeries> data(String metric) {
    return SinkJobs.fleet(metric, 20, 3, SinkJobs.baseMs());
  }

  @Test
  void basicAuthWithTheRightCredentialsWritesToPrometheus() throws Exception {
    List<PrometheusTimeSeries> records = data("secure_basic");
    try (PrometheusServer prometheus = PrometheusServer.withBasicAuth()) {
      JobExecutionResult result =
          SinkJobs.run(
              records,
              PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
                  .setBasicAuth(
                      PrometheusServer.BASIC_AUTH_USER, PrometheusServer.BASIC_AUTH_PASSWORD)
                  .build(),
              2);
      assertThat(prometheus.rawSamples("secure_basic", "1h").bySeries())
          .isEqualTo(SinkJobs.expected(records).bySeries());
      assertThat(SinkCounters.of(REPORTER, result.getJobID()).get(SinkCounter.SAMPLES_OUT))
          .isEqualTo(60);
    }
  }

  @Test
  void wrongBasicAuthCredentialsFailTheJobWith401AndNoSecretInSight() throws Exception {
    try (PrometheusServer prometheus = PrometheusServer.withBasicAuth();
        LogCapture log = new LogCapture(PrometheusSinkWriter.class)) {
      PrometheusSink sink =
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
              .setBasicAuth(PrometheusServer.BASIC_AUTH_USER, WRONG_PASSWORD)
              .build();
      assertThatThrownBy(() -> SinkJobs.run(data("secure_wrong"), sink, 1))
          .rootCause()
          .isInstanceOf(PrometheusSinkWriteException.class)
          .hasMessageStartingWith(
              "fatal: " + prometheus.writeUrl() + " answered HTTP 401 after 0 retries; ")
          .hasMessageContaining("Unauthorized")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(WRONG_PASSWORD));
      assertThat(sink.toString()).doesNotContain(WRONG_PASSWORD);
      assertThat(String.join("\n", log.lines())).doesNotContain(WRONG_PASSWORD);
      assertThat(prometheus.rawSamples("secure_wrong", "1h").sampleCount()).isZero();
    }
  }

  /**
   * A job that fails (401) configured with every kind of secret: a key in the URL's query, basic
   * auth or a bearer token, and a secret header. Every log line (of every logger, with its stack
   * trace) and the whole exception chain are searched for each secret: none is there.
   */
  @Test
  void noSecretShowsInAnyLogLineOrExceptionOfAFailingJob() throws Exception {
    String queryKey = "Q-k3y-8812";
    String headerSecret = "H-s3cret-5531";
    try (PrometheusServer prometheus = PrometheusServer.withBasicAuth()) {
      String url = prometheus.writeUrl() + "?api_key=" + queryKey;
      for (boolean basic : new boolean[] {true, false}) {
        PrometheusSinkBuilder builder =
            PrometheusSink.builder()
                .setPrometheusRemoteWriteUrl(url)
                .addHttpHeader("X-Api-Key", headerSecret)
                .setSendingLanes(1);
        if (basic) {
          builder.setBasicAuth(PrometheusServer.BASIC_AUTH_USER, WRONG_PASSWORD);
        } else {
          builder.setBearerToken(TOKEN);
        }
        PrometheusSink sink = builder.build();
        String failure;
        try (LogCapture log = LogCapture.everything(Level.ALL)) {
          Throwable thrown = catchThrowable(() -> SinkJobs.run(data("secure_secrets"), sink, 1));
          assertThat(thrown).isNotNull();
          assertThat(thrown).rootCause().isInstanceOf(PrometheusSinkWriteException.class);
          StringWriter trace = new StringWriter();
          thrown.printStackTrace(new PrintWriter(trace));
          failure = trace + "\n" + sink + "\n" + String.join("\n", log.lines());
          assertThat(failure)
              .contains(prometheus.writeUrl() + "?<hidden> answered HTTP 401 after 0 retries");
        }
        for (String secret : new String[] {queryKey, headerSecret, WRONG_PASSWORD, TOKEN}) {
          assertThat(failure).doesNotContain(secret);
        }
      }
    }
  }

  @Test
  void forbiddenFailsTheJobInsteadOfDroppingSilently() throws Exception {
    try (FaultReceiver receiver = FaultReceiver.start("", "403:body=tenant is read-only")) {
      // One lane: exactly one request shows that 403 was not retried.
      PrometheusSink sink =
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(receiver.writeUrl())
              .setSendingLanes(1)
              .build();
      assertThatThrownBy(() -> SinkJobs.run(data("secure_forbidden"), sink, 1))
          .rootCause()
          .isInstanceOf(PrometheusSinkWriteException.class)
          .hasMessage(
              "fatal: "
                  + receiver.writeUrl()
                  + " answered HTTP 403 after 0 retries; 60 samples not written; response body:"
                  + " tenant is read-only");
      assertThat(receiver.stats().get("requests").asLong()).isEqualTo(1);
    }
  }

  @Test
  void bearerTokenIsSentAndAWrongOneFailsWith401() throws Exception {
    List<PrometheusTimeSeries> records = data("secure_bearer");
    try (FaultReceiver receiver =
        FaultReceiver.start("", "204", "--expect-authorization", "Bearer " + TOKEN)) {
      SinkJobs.run(
          records,
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(receiver.writeUrl())
              .setBearerToken(TOKEN)
              .build(),
          2);
      assertThat(receiver.series()).isEqualTo(SinkJobs.expected(records).bySeries());
      assertThat(receiver.stats().get("auth_failures").asLong()).isZero();

      PrometheusSink wrong =
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(receiver.writeUrl())
              .setBearerToken("not-" + TOKEN)
              .setSendingLanes(1)
              .build();
      assertThatThrownBy(() -> SinkJobs.run(data("secure_bearer_wrong"), wrong, 1))
          .rootCause()
          .hasMessageStartingWith("fatal: " + receiver.writeUrl() + " answered HTTP 401")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(TOKEN));
      assertThat(receiver.stats().get("auth_failures").asLong()).isEqualTo(1);
    }
  }

  /** Signs the compressed body with HMAC-SHA256; counts its calls. */
  static final class HmacSigner implements PrometheusRequestSigner {
    static final AtomicInteger CALLS = new AtomicInteger();
    private final String key;

    HmacSigner(String key) {
      this.key = key;
    }

    @Override
    public void addSignatureHeaders(Map<String, String> headers, byte[] body) {
      CALLS.incrementAndGet();
      if (!"snappy".equals(headers.get("Content-Encoding"))) {
        throw new IllegalStateException("the signer must see the request headers: " + headers);
      }
      try {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        StringBuilder hex = new StringBuilder();
        for (byte b : mac.doFinal(body)) {
          hex.append(String.format("%02x", b & 0xff));
        }
        headers.put("X-Signature", hex.toString());
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  @Test
  void theRequestSignerSignsEveryAttemptIncludingRetries() throws Exception {
    List<PrometheusTimeSeries> records = data("secure_signed");
    HmacSigner.CALLS.set(0);
    try (FaultReceiver receiver =
        FaultReceiver.start(
            "503*2,429", "204", "--hmac-key", "k3y", "--hmac-header", "X-Signature")) {
      JobExecutionResult result =
          SinkJobs.run(
              records,
              PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(receiver.writeUrl())
                  .setRequestSigner(new HmacSigner("k3y"))
                  .setRetryConfiguration(
                      PrometheusSinkConfiguration.RetryConfiguration.builder()
                          .setInitialRetryDelayMS(1)
                          .setMaxRetryDelayMS(5)
                          .build())
                  .build(),
              1);

      JsonNode stats = receiver.stats();
      assertThat(stats.get("signature_failures").asLong()).isZero();
      assertThat(receiver.series()).isEqualTo(SinkJobs.expected(records).bySeries());
      assertThat(HmacSigner.CALLS.get()).isEqualTo(stats.get("requests").asInt());
      assertThat(
              SinkCounters.of(REPORTER, result.getJobID()).get(SinkCounter.WRITE_REQUESTS_RETRIES))
          .isEqualTo(3);
    }
  }

  @Test
  void aWrongSignatureIsRejectedByTheReceiver() throws Exception {
    try (FaultReceiver receiver =
        FaultReceiver.start("", "204", "--hmac-key", "k3y", "--hmac-header", "X-Signature")) {
      PrometheusSink sink =
          PrometheusSink.builder()
              .setPrometheusRemoteWriteUrl(receiver.writeUrl())
              .setRequestSigner(new HmacSigner("other-key"))
              .setSendingLanes(1)
              .build();
      assertThatThrownBy(() -> SinkJobs.run(data("secure_badsig"), sink, 1))
          .rootCause()
          .hasMessageContaining("answered HTTP 401")
          .hasMessageContaining("bad signature");
      assertThat(receiver.stats().get("signature_failures").asLong()).isEqualTo(1);
    }
  }
}
