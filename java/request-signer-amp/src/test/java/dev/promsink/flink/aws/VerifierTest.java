package dev.promsink.flink.aws;

import static dev.promsink.flink.aws.AmazonManagedPrometheusWriteRequestSignerTest.sinkHeaders;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The botocore verifier accepts what the signer signs and rejects a request changed after signing
 * or signed with another secret: the end-to-end tests' verdicts can fail.
 */
class VerifierTest {
  static final String KEY = "AKIDPROMSINKVERIFY";
  static final String SECRET = "verify/Secret+Key";
  static final String TOKEN = "verify-Session-Token";
  static final String REGION = "us-west-2";

  /** A request body the receiver can decode: snappy literal of an empty WriteRequest. */
  static final byte[] EMPTY_REQUEST = {0};

  /** The headers the signer adds for {@code body} to the receiver's URL. */
  static Map<String, String> signed(SigV4Receiver receiver, byte[] body) {
    return signed(receiver.writeUrl(), body);
  }

  /** The headers the signer adds for {@code body} to {@code url}. */
  static Map<String, String> signed(String url, byte[] body) {
    Map<String, String> headers = sinkHeaders();
    new AmazonManagedPrometheusWriteRequestSigner(url, REGION).addSignatureHeaders(headers, body);
    return headers;
  }

  @Test
  void acceptsASignedRequestAndRejectsOneChangedAfterSigning() throws Exception {
    try (SystemCredentials c = new SystemCredentials(KEY, SECRET, TOKEN);
        SigV4Receiver receiver = new SigV4Receiver(KEY, SECRET, TOKEN, REGION, 0, 500)) {
      byte[] other = "x".getBytes(StandardCharsets.UTF_8);

      assertThat(receiver.post(signed(receiver, EMPTY_REQUEST), EMPTY_REQUEST)).isEqualTo(204);
      // Another body than the one signed: its hash header no longer matches.
      assertThat(receiver.post(signed(receiver, EMPTY_REQUEST), other)).isEqualTo(403);
      // A signed header changed.
      Map<String, String> changed = signed(receiver, EMPTY_REQUEST);
      changed.put("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request");
      assertThat(receiver.post(changed, EMPTY_REQUEST)).isEqualTo(403);
      // The body's hash header made to match the other body: the signature still does not.
      Map<String, String> rehashed = signed(receiver, EMPTY_REQUEST);
      rehashed.put(
          "x-amz-content-sha256", AmazonManagedPrometheusWriteRequestSignerTest.sha256Hex(other));
      assertThat(receiver.post(rehashed, other)).isEqualTo(403);

      assertThat(receiver.report().failures())
          .containsExactly(
              "x-amz-content-sha256 is not the body's SHA-256",
              "signature mismatch",
              "signature mismatch");
    }
  }

  @Test
  void coversThePathAndQuery() throws Exception {
    try (SystemCredentials c = new SystemCredentials(KEY, SECRET, TOKEN);
        SigV4Receiver receiver = new SigV4Receiver(KEY, SECRET, TOKEN, REGION, 0, 500)) {
      String url = receiver.writeUrl() + "?tenant=a%20b&z=1&b=%2F";
      assertThat(receiver.post(url, signed(url, EMPTY_REQUEST), EMPTY_REQUEST)).isEqualTo(204);
      // Signed for another query or path than the one sent.
      String other = receiver.writeUrl() + "?tenant=c";
      assertThat(receiver.post(other, signed(url, EMPTY_REQUEST), EMPTY_REQUEST)).isEqualTo(403);
      String path = receiver.writeUrl().replace("/api/v1/write", "/api/v1/push");
      assertThat(receiver.post(path, signed(receiver, EMPTY_REQUEST), EMPTY_REQUEST))
          .isEqualTo(403);
      assertThat(receiver.report().failures())
          .containsExactly("signature mismatch", "signature mismatch");
    }
  }

  @Test
  void rejectsASignatureMadeWithAnotherSecretOrToken() throws Exception {
    try (SystemCredentials c = new SystemCredentials(KEY, "another-secret", TOKEN);
        SigV4Receiver receiver = new SigV4Receiver(KEY, SECRET, TOKEN, REGION, 0, 500)) {
      assertThat(receiver.post(signed(receiver, EMPTY_REQUEST), EMPTY_REQUEST)).isEqualTo(403);
      c.rotate(KEY, SECRET, "another-token");
      assertThat(receiver.post(signed(receiver, EMPTY_REQUEST), EMPTY_REQUEST)).isEqualTo(403);
      c.rotate(KEY, SECRET, TOKEN);
      assertThat(receiver.post(signed(receiver, EMPTY_REQUEST), EMPTY_REQUEST)).isEqualTo(204);

      assertThat(receiver.report().failures())
          .isEqualTo(
              List.of(
                  "signature mismatch", "X-Amz-Security-Token missing or not the session token"));
    }
  }
}
