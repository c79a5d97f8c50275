package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.promsink.flink.PrometheusSinkConfiguration.OnErrorBehavior;
import dev.promsink.flink.PrometheusSinkConfiguration.RetryConfiguration;
import dev.promsink.flink.PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PrometheusSinkBuilderTest {
  private static final String URL = "http://127.0.0.1:9090/api/v1/write";

  private static PrometheusSinkBuilder valid() {
    return PrometheusSink.builder().setPrometheusRemoteWriteUrl(URL);
  }

  @Test
  void defaultsMatchTheApacheConnector() {
    PrometheusSink sink = valid().build();
    assertThat(sink.toString())
        .startsWith(
            "PrometheusSink{maxBatchSizeInSamples=500, maxRecordSizeInSamples=500,"
                + " maxBufferedRequests=1000, maxTimeInBufferMS=5000, maxInFlightBatches=96,"
                + " metricGroupName=Prometheus, requestSigner=none, native={");
    assertThat(sink.nativeOptions())
        .containsEntry("url", URL)
        .containsEntry("socket_timeout_ms", "5000")
        .containsEntry("retry.initial_delay_ms", "30")
        .containsEntry("retry.max_delay_ms", "5000")
        .containsEntry("retry.max_retries", "100")
        .containsEntry("on_max_retries_exceeded", "FAIL")
        .containsEntry("lanes", "32")
        .containsEntry("lanes.adaptive", "true")
        .containsEntry("max_request_samples", "500")
        .containsEntry("linger_ms", "5")
        .containsEntry("remote_write.version", "1")
        .doesNotContainKey("user_agent");
  }

  @Test
  void everyOptionReachesTheSink() {
    PrometheusSink sink =
        valid()
            .setMaxBatchSizeInSamples(2000)
            .setMaxRecordSizeInSamples(100)
            .setMaxBufferedRequests(5000)
            .setMaxTimeInBufferMS(250)
            .setSocketTimeoutMs(1234)
            .setHttpUserAgent("fleet/1.0")
            .setRetryConfiguration(
                RetryConfiguration.builder()
                    .setInitialRetryDelayMS(7)
                    .setMaxRetryDelayMS(70)
                    .setMaxRetryCount(Integer.MAX_VALUE)
                    .build())
            .setErrorHandlingBehaviorConfiguration(
                SinkWriterErrorHandlingBehaviorConfiguration.builder()
                    .onMaxRetryExceeded(OnErrorBehavior.DISCARD_AND_CONTINUE)
                    .build())
            .addHttpHeader("X-Scope-OrgID", "tenant-7")
            .setTlsCaCertificateFile("/etc/promsink/ca.pem")
            .setSendingLanes(1)
            .setAdaptiveSendingLanes(false)
            .setRemoteWriteVersion(RemoteWriteVersion.V2)
            .build();
    assertThat(sink.toString())
        .startsWith(
            "PrometheusSink{maxBatchSizeInSamples=2000, maxRecordSizeInSamples=100,"
                + " maxBufferedRequests=5000, maxTimeInBufferMS=250, maxInFlightBatches=1,");
    assertThat(sink.nativeOptions())
        .containsEntry("socket_timeout_ms", "1234")
        .containsEntry("user_agent", "fleet/1.0")
        .containsEntry("retry.initial_delay_ms", "7")
        .containsEntry("retry.max_delay_ms", "70")
        .containsEntry("retry.max_retries", "2147483647")
        .containsEntry("on_max_retries_exceeded", "DISCARD_AND_CONTINUE")
        .containsEntry("header.X-Scope-OrgID", "tenant-7")
        .containsEntry("tls.ca_file", "/etc/promsink/ca.pem")
        .containsEntry("lanes", "1")
        .containsEntry("lanes.adaptive", "false")
        .containsEntry("max_request_samples", "2000")
        .containsEntry("remote_write.version", "2");
  }

  static Stream<Arguments> invalidOptions() {
    return Stream.of(
        bad("missing url", b -> PrometheusSink.builder(), "setPrometheusRemoteWriteUrl: null"),
        bad("blank url", b -> b.setPrometheusRemoteWriteUrl("  "), "setPrometheusRemoteWriteUrl"),
        bad(
            "not a url",
            b -> b.setPrometheusRemoteWriteUrl("http://exa mple/"),
            "Invalid setPrometheusRemoteWriteUrl: http://exa mple/"),
        bad(
            "credentials in the url",
            b -> b.setPrometheusRemoteWriteUrl("https://flink:s3cret@prometheus:9090/api/v1/write"),
            "Invalid setPrometheusRemoteWriteUrl: https://<hidden>@prometheus:9090/api/v1/write;"
                + " allowed: a URL without user:password@ (credentials go to setBasicAuth"),
        bad(
            "wrong scheme",
            b -> b.setPrometheusRemoteWriteUrl("ftp://host/w"),
            "Invalid setPrometheusRemoteWriteUrl: ftp://host/w; allowed: an http:// or https://"),
        bad(
            "batch size 1",
            b -> b.setMaxBatchSizeInSamples(1),
            "Invalid setMaxBatchSizeInSamples: 1; allowed: 2 to 2147483647"),
        bad(
            "record larger than batch",
            b -> b.setMaxBatchSizeInSamples(100).setMaxRecordSizeInSamples(101),
            "Invalid setMaxRecordSizeInSamples: 101; allowed: 1 to the max batch size in samples"
                + " (100)"),
        bad(
            "record size 0",
            b -> b.setMaxRecordSizeInSamples(0),
            "Invalid setMaxRecordSizeInSamples: 0"),
        bad(
            "buffer not above batch",
            b -> b.setMaxBatchSizeInSamples(1000),
            "Invalid setMaxBufferedRequests: 1000; allowed: more than the max batch size in"
                + " samples (1000)"),
        bad(
            "time in buffer 0",
            b -> b.setMaxTimeInBufferMS(0),
            "Invalid setMaxTimeInBufferMS: 0; allowed: 1 to"),
        bad(
            "initial retry delay 0",
            b ->
                b.setRetryConfiguration(
                    RetryConfiguration.builder().setInitialRetryDelayMS(0).build()),
            "Invalid RetryConfiguration.setInitialRetryDelayMS: 0"),
        bad(
            "max delay below initial",
            b ->
                b.setRetryConfiguration(
                    RetryConfiguration.builder()
                        .setInitialRetryDelayMS(100)
                        .setMaxRetryDelayMS(99)
                        .build()),
            "Invalid RetryConfiguration.setMaxRetryDelayMS: 99; allowed: at least the initial retry"
                + " delay (100)"),
        bad(
            "retry count 0",
            b -> b.setRetryConfiguration(RetryConfiguration.builder().setMaxRetryCount(0).build()),
            "Invalid RetryConfiguration.setMaxRetryCount: 0; allowed: 1 to 2147483647"),
        bad(
            "non-retryable FAIL",
            b ->
                b.setErrorHandlingBehaviorConfiguration(
                    SinkWriterErrorHandlingBehaviorConfiguration.builder()
                        .onPrometheusNonRetryableError(OnErrorBehavior.FAIL)
                        .build()),
            "Invalid onPrometheusNonRetryableError: FAIL; allowed: DISCARD_AND_CONTINUE only"),
        bad(
            "null on max retry",
            b ->
                b.setErrorHandlingBehaviorConfiguration(
                    SinkWriterErrorHandlingBehaviorConfiguration.builder()
                        .onMaxRetryExceeded(null)
                        .build()),
            "Invalid onMaxRetryExceeded: null"),
        bad(
            "negative socket timeout",
            b -> b.setSocketTimeoutMs(-1),
            "Invalid setSocketTimeoutMs: -1; allowed: 0 (no timeout) to 2147483647"),
        bad("blank user agent", b -> b.setHttpUserAgent(" "), "Invalid setHttpUserAgent"),
        bad("blank metric group", b -> b.setMetricGroupName(""), "Invalid setMetricGroupName"),
        bad(
            "reserved header",
            b -> b.addHttpHeader("content-type", "text/plain"),
            "Invalid addHttpHeader: content-type; allowed: any header but the reserved"),
        bad(
            "reserved user agent header",
            b -> b.addHttpHeader("User-Agent", "x"),
            "Invalid addHttpHeader: User-Agent"),
        bad(
            "reserved host header",
            b -> b.addHttpHeader("Host", "x"),
            "Invalid addHttpHeader: Host"),
        bad(
            "reserved content length header",
            b -> b.addHttpHeader("CONTENT-LENGTH", "1"),
            "Invalid addHttpHeader: CONTENT-LENGTH"),
        bad(
            "reserved transfer encoding header",
            b -> b.addHttpHeader("transfer-encoding", "chunked"),
            "Invalid addHttpHeader: transfer-encoding"),
        bad(
            "reserved connection header",
            b -> b.addHttpHeader("Connection", "close"),
            "Invalid addHttpHeader: Connection; allowed: any header but the reserved"),
        bad(
            "bad header name",
            b -> b.addHttpHeader("X Bad", "x"),
            "Invalid addHttpHeader: X Bad; allowed: an HTTP header name"),
        bad(
            "header value with newline",
            b -> b.addHttpHeader("X-Ok", "a\r\nInjected: 1"),
            "Invalid addHttpHeader(X-Ok): <hidden>"),
        bad(
            "blank CA file",
            b -> b.setTlsCaCertificateFile(" "),
            "Invalid setTlsCaCertificateFile:"),
        bad("no lanes", b -> b.setSendingLanes(0), "Invalid setSendingLanes: 0; allowed: 1 to 64"),
        bad(
            "no Remote-Write version",
            b -> b.setRemoteWriteVersion(null),
            "Invalid setRemoteWriteVersion: null; allowed: V1 or V2"),
        bad(
            "no batch in flight",
            b -> b.setMaxInFlightRequests(0),
            "Invalid setMaxInFlightRequests: 0; allowed: 1 to 1024"),
        bad("too many lanes", b -> b.setSendingLanes(65), "Invalid setSendingLanes: 65"),
        bad(
            "negative linger",
            b -> b.setRequestLingerMs(-1),
            "Invalid setRequestLingerMs: -1; allowed: 0 to 1000"),
        bad("long linger", b -> b.setRequestLingerMs(1001), "Invalid setRequestLingerMs: 1001"),
        bad(
            "basic auth without username",
            b -> b.setBasicAuth("", "pw"),
            "Invalid setBasicAuth(username): ; allowed: a non-empty name without ':'"),
        bad(
            "basic auth username with colon",
            b -> b.setBasicAuth("a:b", "pw"),
            "Invalid setBasicAuth(username): a:b"),
        bad(
            "basic auth without password",
            b -> b.setBasicAuth("flink", null),
            "Invalid setBasicAuth(password): null"),
        bad(
            "empty bearer token",
            b -> b.setBearerToken(""),
            "Invalid setBearerToken: <hidden>; allowed: a non-empty token without CR/LF"),
        bad(
            "basic and bearer together",
            b -> b.setBasicAuth("flink", "pw").setBearerToken("t"),
            "Invalid setBearerToken: <hidden>; allowed: not together with setBasicAuth"),
        bad(
            "authorization header with built-in auth",
            b -> b.setBearerToken("t").addHttpHeader("Authorization", "x"),
            "Invalid addHttpHeader: Authorization; allowed: not together with setBasicAuth or"
                + " setBearerToken"));
  }

  private static Arguments bad(
      String name, UnaryOperator<PrometheusSinkBuilder> change, String message) {
    return Arguments.of(name, change, message);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidOptions")
  void invalidOptionFailsAtBuildNamingIt(
      String name, UnaryOperator<PrometheusSinkBuilder> change, String message) {
    assertThatThrownBy(() -> change.apply(valid()).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void theQueryOfTheUrlReachesTheNativeOptionsButNeverToStringOrMessages() {
    String url = "https://prometheus:9090/api/v1/write?api_key=Q-s3cret&tenant=a";
    PrometheusSink sink = PrometheusSink.builder().setPrometheusRemoteWriteUrl(url).build();
    assertThat(sink.nativeOptions()).containsEntry("url", url);
    assertThat(sink.toString())
        .contains("url=https://prometheus:9090/api/v1/write?<hidden>")
        .doesNotContain("Q-s3cret");
    assertThatThrownBy(
            () ->
                PrometheusSink.builder()
                    .setPrometheusRemoteWriteUrl("ftp://prometheus/w?api_key=Q-s3cret")
                    .build())
        .hasMessage(
            "Invalid setPrometheusRemoteWriteUrl: ftp://prometheus/w?<hidden>; allowed: an http://"
                + " or https:// URL with a host")
        .hasMessageNotContaining("Q-s3cret");
    assertThat(PrometheusSink.redactedUrl("http://u:p@h:1/w?k=v#f"))
        .isEqualTo("http://<hidden>@h:1/w?<hidden>");
    assertThat(PrometheusSink.redactedUrl("http://h/w")).isEqualTo("http://h/w");
  }

  @Test
  void credentialsReachTheNativeOptionsButNeverToString() {
    PrometheusSink basic =
        valid().setBasicAuth("flink", "pa55-basic").addHttpHeader("X-Api-Key", "k3y").build();
    assertThat(basic.nativeOptions())
        .containsEntry("auth.basic.username", "flink")
        .containsEntry("auth.basic.password", "pa55-basic")
        .containsEntry("header.X-Api-Key", "k3y");
    assertThat(basic.toString())
        .contains("auth.basic.username=flink", "auth.basic.password=<hidden>")
        .contains("header.X-Api-Key=<hidden>")
        .doesNotContain("pa55-basic")
        .doesNotContain("k3y");
    PrometheusSink bearer = valid().setBearerToken("t0ken-xyz").build();
    assertThat(bearer.nativeOptions()).containsEntry("auth.bearer_token", "t0ken-xyz");
    assertThat(bearer.toString()).contains("auth.bearer_token=<hidden>").doesNotContain("t0ken");
  }

  @Test
  void aRequestSignerIsAcceptedAndNamedInToString() {
    PrometheusSink sink = valid().setRequestSigner(new NoopSigner()).build();
    assertThat(sink.toString()).contains("requestSigner=" + NoopSigner.class.getName());
  }

  private static final class NoopSigner implements PrometheusRequestSigner {
    @Override
    public void addSignatureHeaders(java.util.Map<String, String> headers, byte[] body) {}
  }

  @Test
  void byteBasedSettersAreRejected() {
    assertThatThrownBy(() -> valid().setMaxBatchSizeInBytes(10))
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("setMaxBatchSizeInSamples");
    assertThatThrownBy(() -> valid().setMaxRecordSizeInBytes(10))
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("setMaxRecordSizeInSamples");
    assertThatThrownBy(() -> valid().setMaxBatchSize(10))
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("setMaxBatchSizeInSamples");
  }

  @Test
  void batchesInFlightFollowTheLanesUnlessSet() {
    assertThat(valid().build().toString()).contains("maxInFlightBatches=96,");
    assertThat(valid().setMaxInFlightRequests(3).build().toString())
        .contains("maxInFlightBatches=3,");
    assertThat(valid().setSendingLanes(16).build().toString()).contains("maxInFlightBatches=48,");
    assertThat(valid().setSendingLanes(1).build().toString()).contains("maxInFlightBatches=1,");
  }
}
