package dev.promsink.flink.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AmazonManagedPrometheusWriteRequestSignerTest {
  static final String URL =
      "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write";
  static final String KEY = "AKIDPROMSINKUNIT";
  static final String SECRET = "unit/Secret+Key-never-shown";
  static final String TOKEN = "unit-Session-Token-never-shown";

  /** The headers the sink shows a signer for a Remote-Write 1.0 request. */
  static Map<String, String> sinkHeaders() {
    Map<String, String> h = new LinkedHashMap<>();
    h.put("Content-Encoding", "snappy");
    h.put("Content-Type", "application/x-protobuf");
    h.put("X-Prometheus-Remote-Write-Version", "0.1.0");
    h.put("User-Agent", "promsink-test");
    return h;
  }

  static String sha256Hex(byte[] data) {
    try {
      StringBuilder hex = new StringBuilder();
      for (byte b : MessageDigest.getInstance("SHA-256").digest(data)) {
        hex.append(String.format("%02x", b));
      }
      return hex.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void rejectsBadArgumentsNamingThem() {
    String p = "AmazonManagedPrometheusWriteRequestSigner: ";
    assertThatThrownBy(() -> new AmazonManagedPrometheusWriteRequestSigner(null, "us-east-1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(p + "remoteWriteUrl must not be empty");
    assertThatThrownBy(() -> new AmazonManagedPrometheusWriteRequestSigner(" ", "us-east-1"))
        .hasMessage(p + "remoteWriteUrl must not be empty");
    assertThatThrownBy(
            () -> new AmazonManagedPrometheusWriteRequestSigner("http://h/a b", "us-east-1"))
        .hasMessage(p + "remoteWriteUrl is not a URL: Illegal character in path at index 10");
    assertThatThrownBy(
            () -> new AmazonManagedPrometheusWriteRequestSigner("ftp://h/write", "us-east-1"))
        .hasMessage(p + "remoteWriteUrl \"ftp://h/write\" must be an http or https URL");
    assertThatThrownBy(() -> new AmazonManagedPrometheusWriteRequestSigner("/write", "us-east-1"))
        .hasMessage(p + "remoteWriteUrl \"/write\" must be an http or https URL");
    assertThatThrownBy(
            () -> new AmazonManagedPrometheusWriteRequestSigner("https:///write", "us-east-1"))
        .hasMessage(p + "remoteWriteUrl \"https:///write\" has no host");
    assertThatThrownBy(
            () ->
                new AmazonManagedPrometheusWriteRequestSigner(
                    "https://u:pw-123@h:8443/write?key=k3y", "us-east-1"))
        .hasMessage(
            p
                + "remoteWriteUrl \"https://h:8443/write?<hidden>\" must not hold user information"
                + " (user:password@)");
    assertThatThrownBy(
            () -> new AmazonManagedPrometheusWriteRequestSigner("ftp://h/w?key=k3y", "us-east-1"))
        .hasMessage(p + "remoteWriteUrl \"ftp://h/w?<hidden>\" must be an http or https URL");
    assertThatThrownBy(() -> new AmazonManagedPrometheusWriteRequestSigner(URL, null))
        .hasMessage(p + "awsRegion must not be empty");
    assertThatThrownBy(() -> new AmazonManagedPrometheusWriteRequestSigner(URL, ""))
        .hasMessage(p + "awsRegion must not be empty");
    assertThatThrownBy(() -> new AmazonManagedPrometheusWriteRequestSigner(URL, "US East 1"))
        .hasMessage(
            p + "awsRegion \"US East 1\" is not an AWS region name (for example us-east-1)");
    assertThatThrownBy(() -> new AmazonManagedPrometheusWriteRequestSigner(URL, "us-east-1 "))
        .hasMessageContaining("is not an AWS region name");
  }

  @Test
  void signsWithSessionCredentialsAndLeavesTheSinkHeadersAlone() {
    try (SystemCredentials c = new SystemCredentials(KEY, SECRET, TOKEN)) {
      AmazonManagedPrometheusWriteRequestSigner signer =
          new AmazonManagedPrometheusWriteRequestSigner(URL, "eu-west-1");
      Map<String, String> headers = sinkHeaders();
      signer.addSignatureHeaders(headers, "body".getBytes(StandardCharsets.UTF_8));

      String date = headers.get("X-Amz-Date");
      assertThat(date).matches("\\d{8}T\\d{6}Z");
      assertThat(headers.get("X-Amz-Security-Token")).isEqualTo(TOKEN);
      assertThat(headers.get("Authorization"))
          .startsWith(
              "AWS4-HMAC-SHA256 Credential="
                  + KEY
                  + "/"
                  + date.substring(0, 8)
                  + "/eu-west-1/aps/aws4_request, SignedHeaders=content-encoding;content-type;host;"
                  + "x-amz-content-sha256;x-amz-date;x-amz-security-token;"
                  + "x-prometheus-remote-write-version, Signature=")
          .doesNotContain(SECRET);
      assertThat(headers.get("x-amz-content-sha256"))
          .isEqualTo(sha256Hex("body".getBytes(StandardCharsets.UTF_8)));
      // The sink's own headers are unchanged; Host is the sink's to set.
      Map<String, String> before = sinkHeaders();
      before.forEach((name, value) -> assertThat(headers.get(name)).isEqualTo(value));
      assertThat(headers.keySet()).noneMatch(name -> name.equalsIgnoreCase("host"));
    }
  }

  @Test
  void resolvesCredentialsForEveryRequest() {
    try (SystemCredentials c = new SystemCredentials(KEY, SECRET, TOKEN)) {
      AmazonManagedPrometheusWriteRequestSigner signer =
          new AmazonManagedPrometheusWriteRequestSigner(URL, "eu-west-1");
      Map<String, String> first = sinkHeaders();
      signer.addSignatureHeaders(first, new byte[] {1});
      c.rotate("AKIDPROMSINKROTATED", "rotated-secret", "rotated-token");
      Map<String, String> second = sinkHeaders();
      signer.addSignatureHeaders(second, new byte[] {1});

      assertThat(first.get("Authorization")).contains("Credential=" + KEY + "/");
      assertThat(second.get("Authorization")).contains("Credential=AKIDPROMSINKROTATED/");
      assertThat(second.get("X-Amz-Security-Token")).isEqualTo("rotated-token");
      // Long-term credentials: no session token header.
      c.rotate("AKIDPROMSINKLONGTERM", "long-term-secret", null);
      Map<String, String> third = sinkHeaders();
      signer.addSignatureHeaders(third, new byte[] {1});
      assertThat(third.get("Authorization")).contains("Credential=AKIDPROMSINKLONGTERM/");
      assertThat(third.get("Authorization")).doesNotContain("x-amz-security-token");
      assertThat(third).doesNotContainKey("X-Amz-Security-Token");
    }
  }

  @Test
  void replacesAnAuthorizationHeaderRatherThanSigningIt() {
    try (SystemCredentials c = new SystemCredentials(KEY, SECRET, null)) {
      Map<String, String> headers = sinkHeaders();
      headers.put("Authorization", "Bearer something");
      new AmazonManagedPrometheusWriteRequestSigner(URL, "eu-west-1")
          .addSignatureHeaders(headers, new byte[0]);
      assertThat(headers.get("Authorization"))
          .startsWith("AWS4-HMAC-SHA256 ")
          .doesNotContain("authorization");
    }
  }

  @Test
  void missingCredentialsFailWithoutShowingASecret() {
    // A session token but no secret key: no provider of the chain has credentials.
    try (SystemCredentials c = new SystemCredentials(KEY, null, TOKEN)) {
      AmazonManagedPrometheusWriteRequestSigner signer =
          new AmazonManagedPrometheusWriteRequestSigner(URL, "eu-west-1");
      assertThatThrownBy(() -> signer.addSignatureHeaders(sinkHeaders(), new byte[0]))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith(
              "AmazonManagedPrometheusWriteRequestSigner: no AWS credentials from the default"
                  + " credentials provider chain: ")
          .hasMessageNotContaining(TOKEN);
    }
    // A secret key and a token but no key id.
    try (SystemCredentials c = new SystemCredentials(null, SECRET, TOKEN)) {
      AmazonManagedPrometheusWriteRequestSigner signer =
          new AmazonManagedPrometheusWriteRequestSigner(URL, "eu-west-1");
      assertThatThrownBy(() -> signer.addSignatureHeaders(sinkHeaders(), new byte[0]))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith(
              "AmazonManagedPrometheusWriteRequestSigner: no AWS credentials from the default"
                  + " credentials provider chain: ")
          .hasMessageNotContaining(SECRET)
          .hasMessageNotContaining(TOKEN);
    }
  }

  @Test
  void anIncompleteProfileFailsWithoutShowingItsSecrets(@TempDir Path dir) throws Exception {
    // The profile holds a secret key and a token but no key id: the SDK says what is missing.
    Path file = dir.resolve("credentials");
    Files.writeString(
        file,
        "[default]\naws_secret_access_key = " + SECRET + "\naws_session_token = " + TOKEN + "\n");
    try (SystemCredentials c = new SystemCredentials(null, null, null)) {
      c.credentialsFile(file.toString());
      AmazonManagedPrometheusWriteRequestSigner signer =
          new AmazonManagedPrometheusWriteRequestSigner(URL, "eu-west-1");
      assertThatThrownBy(() -> signer.addSignatureHeaders(sinkHeaders(), new byte[0]))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("Profile property 'aws_access_key_id' was not configured")
          .hasMessageNotContaining(SECRET)
          .hasMessageNotContaining(TOKEN);
    }
  }

  @Test
  void toStringHidesTheQuery() {
    assertThat(
            new AmazonManagedPrometheusWriteRequestSigner("http://h:9090/w?key=k3y", "us-east-1")
                .toString())
        .isEqualTo(
            "AmazonManagedPrometheusWriteRequestSigner{remoteWriteUrl=http://h:9090/w?<hidden>,"
                + " awsRegion=us-east-1}");
  }

  @Test
  void toStringAndSerializedFormCarryNoCredentials() throws Exception {
    try (SystemCredentials c = new SystemCredentials(KEY, SECRET, TOKEN)) {
      AmazonManagedPrometheusWriteRequestSigner signer =
          new AmazonManagedPrometheusWriteRequestSigner(URL, "eu-west-1");
      signer.addSignatureHeaders(sinkHeaders(), new byte[0]); // credentials resolved once
      assertThat(signer.toString())
          .isEqualTo(
              "AmazonManagedPrometheusWriteRequestSigner{remoteWriteUrl="
                  + URL
                  + ", awsRegion=eu-west-1}");

      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
        out.writeObject(signer);
      }
      String serialized = new String(bytes.toByteArray(), StandardCharsets.ISO_8859_1);
      assertThat(serialized).contains(URL).doesNotContain(SECRET, TOKEN, KEY);

      AmazonManagedPrometheusWriteRequestSigner copy;
      try (ObjectInputStream in =
          new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
        copy = (AmazonManagedPrometheusWriteRequestSigner) in.readObject();
      }
      Map<String, String> headers = sinkHeaders();
      copy.addSignatureHeaders(headers, new byte[0]);
      assertThat(headers.get("Authorization")).contains("Credential=" + KEY + "/");
    }
  }
}
