package dev.promsink.flink.aws;

import dev.promsink.flink.PrometheusRequestSigner;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;

/**
 * Signs every write request for Amazon Managed Prometheus with AWS Signature Version 4 (service
 * {@code aps}), with credentials from the AWS SDK's default credentials provider chain: the system
 * properties {@code aws.accessKeyId}, {@code aws.secretAccessKey}, {@code aws.sessionToken}; the
 * environment variables {@code AWS_ACCESS_KEY_ID}, {@code AWS_SECRET_ACCESS_KEY}, {@code
 * AWS_SESSION_TOKEN}; a web identity token; the shared profile files; the container's or the EC2
 * instance's role. Same class name and constructor as Apache's connector's signer.
 *
 * <pre>{@code
 * PrometheusSink.builder()
 *     .setPrometheusRemoteWriteUrl(url)
 *     .setRequestSigner(new AmazonManagedPrometheusWriteRequestSigner(url, "us-east-1"))
 *     .build();
 * }</pre>
 *
 * <p>The URL must be the sink's own: the signature covers the {@code Host} header and the path the
 * sink sends to. Each attempt, retries included, is signed afresh: a new date, the credentials the
 * chain holds at that moment (so rotated or refreshed credentials are used as soon as the chain
 * returns them), the exact compressed body and every header the sink sends except {@code
 * User-Agent}. Session credentials add {@code X-Amz-Security-Token}.
 *
 * <p>The signer is serializable (Flink ships it to the task managers): only the URL and region
 * travel; the credentials provider is created on first use on each task manager. Thread-safe.
 */
public class AmazonManagedPrometheusWriteRequestSigner implements PrometheusRequestSigner {
  private static final long serialVersionUID = 1L;

  /** The SigV4 signing name of Amazon Managed Prometheus. */
  static final String SERVICE_SIGNING_NAME = "aps";

  /** AWS region names: lower-case letters, digits and dashes ({@code us-east-1}). */
  private static final Pattern REGION = Pattern.compile("[a-z0-9]+(-[a-z0-9]+)+");

  private final String remoteWriteUrl;
  private final String awsRegion;

  /** Created on first use in each JVM, never serialized. */
  private transient volatile Signing signing;

  /**
   * A signer for requests to {@code remoteWriteUrl} in {@code awsRegion}.
   *
   * @param remoteWriteUrl the sink's Remote-Write URL, for example {@code
   *     https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-.../api/v1/remote_write}
   * @param awsRegion the workspace's region, for example {@code us-east-1}
   * @throws IllegalArgumentException when the URL is not an http(s) URL with a host, or the region
   *     is empty or not a region name
   */
  public AmazonManagedPrometheusWriteRequestSigner(String remoteWriteUrl, String awsRegion) {
    parseUrl(remoteWriteUrl);
    if (awsRegion == null || awsRegion.trim().isEmpty()) {
      throw new IllegalArgumentException(
          "AmazonManagedPrometheusWriteRequestSigner: awsRegion must not be empty");
    }
    if (!REGION.matcher(awsRegion).matches()) {
      throw new IllegalArgumentException(
          "AmazonManagedPrometheusWriteRequestSigner: awsRegion \""
              + awsRegion
              + "\" is not an AWS region name (for example us-east-1)");
    }
    this.remoteWriteUrl = remoteWriteUrl;
    this.awsRegion = awsRegion;
  }

  /**
   * Adds {@code Authorization}, {@code X-Amz-Date}, {@code x-amz-content-sha256} and, for session
   * credentials, {@code X-Amz-Security-Token}.
   *
   * @throws IllegalStateException when the default chain has no credentials (the sink retries the
   *     request)
   */
  @Override
  public void addSignatureHeaders(Map<String, String> requestHeaders, byte[] requestBody) {
    Signing s = signing();
    AwsCredentials credentials;
    try {
      credentials = s.credentials.resolveCredentials();
    } catch (SdkException e) {
      // The SDK's messages name the providers tried and why each failed, never a secret.
      throw new IllegalStateException(
          "AmazonManagedPrometheusWriteRequestSigner: no AWS credentials from the default"
              + " credentials provider chain: "
              + e.getMessage(),
          e);
    }
    SdkHttpRequest.Builder request = SdkHttpRequest.builder().method(SdkHttpMethod.POST).uri(s.uri);
    requestHeaders.forEach(
        (name, value) -> {
          if (!name.equalsIgnoreCase("Authorization")) {
            request.putHeader(name, value);
          }
        });
    SignedRequest signed =
        s.signer.sign(
            r ->
                r.identity(credentials)
                    .request(request.build())
                    .payload(ContentStreamProvider.fromByteArrayUnsafe(requestBody))
                    .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, SERVICE_SIGNING_NAME)
                    .putProperty(AwsV4HttpSigner.REGION_NAME, awsRegion));
    for (Map.Entry<String, List<String>> header : signed.request().headers().entrySet()) {
      String name = header.getKey();
      // The sink sets Host itself from its URL (the same host and port the signature covers).
      if (name.equalsIgnoreCase("Host") || header.getValue().isEmpty()) {
        continue;
      }
      String value = header.getValue().get(0);
      if (!value.equals(requestHeaders.get(name))) {
        requestHeaders.put(name, value);
      }
    }
  }

  /** The URL (its query hidden, as the sink shows it) and region; never credentials. */
  @Override
  public String toString() {
    return "AmazonManagedPrometheusWriteRequestSigner{remoteWriteUrl="
        + shown(parseUrl(remoteWriteUrl))
        + ", awsRegion="
        + awsRegion
        + "}";
  }

  private Signing signing() {
    Signing s = signing;
    if (s == null) {
      synchronized (this) {
        s = signing;
        if (s == null) {
          s = new Signing(parseUrl(remoteWriteUrl));
          signing = s;
        }
      }
    }
    return s;
  }

  /**
   * {@code url} as a URI, or an exception saying what is wrong with it. Messages show the URL as
   * the sink does: its query (often a key) as {@code ?<hidden>}; an unparseable URL is not shown.
   */
  private static URI parseUrl(String url) {
    if (url == null || url.trim().isEmpty()) {
      throw new IllegalArgumentException(
          "AmazonManagedPrometheusWriteRequestSigner: remoteWriteUrl must not be empty");
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "AmazonManagedPrometheusWriteRequestSigner: remoteWriteUrl is not a URL: "
              + e.getReason()
              + " at index "
              + e.getIndex());
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("https") && !scheme.equals("http")) {
      throw new IllegalArgumentException(
          "AmazonManagedPrometheusWriteRequestSigner: remoteWriteUrl \""
              + shown(uri)
              + "\" must be an http or https URL");
    }
    if (uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException(
          "AmazonManagedPrometheusWriteRequestSigner: remoteWriteUrl \""
              + shown(uri)
              + "\" must not hold user information (user:password@)");
    }
    if (uri.getHost() == null) {
      throw new IllegalArgumentException(
          "AmazonManagedPrometheusWriteRequestSigner: remoteWriteUrl \""
              + shown(uri)
              + "\" has no host");
    }
    return uri;
  }

  /** The URL without user information, its query (if any) shown as {@code ?<hidden>}. */
  private static String shown(URI uri) {
    StringBuilder s = new StringBuilder();
    if (uri.getScheme() != null) {
      s.append(uri.getScheme()).append("://");
    }
    if (uri.getHost() != null) {
      s.append(uri.getHost());
    }
    if (uri.getPort() != -1) {
      s.append(':').append(uri.getPort());
    }
    if (uri.getRawPath() != null) {
      s.append(uri.getRawPath());
    }
    if (uri.getRawQuery() != null) {
      s.append("?<hidden>");
    }
    return s.toString();
  }

  /** What signing needs in a JVM: the parsed URL, the SDK's signer, the credentials chain. */
  private static final class Signing {
    final URI uri;
    final AwsV4HttpSigner signer = AwsV4HttpSigner.create();
    final AwsCredentialsProvider credentials = DefaultCredentialsProvider.builder().build();

    Signing(URI uri) {
      this.uri = uri;
    }
  }
}
