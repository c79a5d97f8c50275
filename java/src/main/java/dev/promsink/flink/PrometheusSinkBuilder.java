package dev.promsink.flink;

import dev.promsink.flink.PrometheusSinkConfiguration.OnErrorBehavior;
import dev.promsink.flink.PrometheusSinkConfiguration.RetryConfiguration;
import dev.promsink.flink.PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.flink.connector.base.sink.AsyncSinkBaseBuilder;

/**
 * Builds a {@link PrometheusSink}. Same options and defaults as Apache's Prometheus connector;
 * every option is checked in {@link #build()}, which names the option, the value and the allowed
 * range of the first one that is wrong.
 */
public class PrometheusSinkBuilder
    extends AsyncSinkBaseBuilder<
        PrometheusTimeSeries, PrometheusTimeSeries, PrometheusSinkBuilder> {

  /** Default max batch size, in samples. */
  public static final int DEFAULT_MAX_BATCH_SIZE_IN_SAMPLES = 500;

  /** Default max time a sample waits in the buffer. */
  public static final long DEFAULT_MAX_TIME_IN_BUFFER_MS = 5000;

  /** Default max number of buffered records. */
  public static final int DEFAULT_MAX_BUFFERED_REQUESTS = 1000;

  /** Default connect and read timeout. */
  public static final int DEFAULT_SOCKET_TIMEOUT_MS = 5000;

  /** Default number of sending lanes of each sink writer. */
  public static final int DEFAULT_SENDING_LANES = 32;

  /** Largest number of sending lanes. */
  public static final int MAX_SENDING_LANES = 64;

  /** Default wait of a request that is not full for the next batches' share, in milliseconds. */
  public static final long DEFAULT_REQUEST_LINGER_MS = 5;

  /** Longest wait of a request that is not full, in milliseconds. */
  public static final long MAX_REQUEST_LINGER_MS = 1000;

  /** Largest number of batches in flight per writer. */
  public static final int MAX_IN_FLIGHT_BATCHES = 1024;

  /** Default name of the metric group holding the sink's counters. */
  public static final String DEFAULT_METRIC_GROUP_NAME = "Prometheus";

  /**
   * Headers users cannot set: those Remote-Write reserves, and those HTTP derives from the request.
   * The native client holds the same list (checked by the cargo test {@code contract.rs}).
   */
  private static final List<String> RESERVED_HEADERS =
      Arrays.asList(
          "content-encoding",
          "content-type",
          "x-prometheus-remote-write-version",
          "user-agent",
          "host",
          "content-length",
          "transfer-encoding",
          "connection");

  private String prometheusRemoteWriteUrl;
  private Integer maxBatchSizeInSamples;
  private Integer maxRecordSizeInSamples;
  private RetryConfiguration retryConfiguration;
  private SinkWriterErrorHandlingBehaviorConfiguration errorHandlingBehaviorConfiguration;
  private Integer socketTimeoutMs;
  private String httpUserAgent;
  private String metricGroupName;
  private PrometheusRequestSigner requestSigner;
  private String tlsCaCertificateFile;
  private Integer sendingLanes;
  private Long requestLingerMs;
  private boolean adaptiveSendingLanes = true;
  private RemoteWriteVersion remoteWriteVersion = RemoteWriteVersion.V1;
  private String basicAuthUsername;
  private String basicAuthPassword;
  private String bearerToken;
  private final Map<String, String> httpHeaders = new LinkedHashMap<>();

  /**
   * A builder with every option at its default; same as {@link PrometheusSink#builder()} (Apache's
   * connector has this constructor too).
   */
  public PrometheusSinkBuilder() {}

  /** The Remote-Write endpoint, e.g. {@code http://prometheus:9090/api/v1/write}. Required. */
  public PrometheusSinkBuilder setPrometheusRemoteWriteUrl(String prometheusRemoteWriteUrl) {
    this.prometheusRemoteWriteUrl = prometheusRemoteWriteUrl;
    return this;
  }

  /** Max samples in one write request (default 500; must be > 1). */
  public PrometheusSinkBuilder setMaxBatchSizeInSamples(int maxBatchSizeInSamples) {
    this.maxBatchSizeInSamples = maxBatchSizeInSamples;
    return this;
  }

  /**
   * Max samples of one buffered entry (default: the batch size; at most the batch size). A record
   * with more samples is split into consecutive entries, never rejected.
   */
  public PrometheusSinkBuilder setMaxRecordSizeInSamples(int maxRecordSizeInSamples) {
    this.maxRecordSizeInSamples = maxRecordSizeInSamples;
    return this;
  }

  /** Backoff and retry limit (default 30 ms doubling to 5000 ms, 100 retries). */
  public PrometheusSinkBuilder setRetryConfiguration(RetryConfiguration retryConfiguration) {
    this.retryConfiguration = retryConfiguration;
    return this;
  }

  /** What happens after the retry limit (default FAIL) and non-retryable answers. */
  public PrometheusSinkBuilder setErrorHandlingBehaviorConfiguration(
      SinkWriterErrorHandlingBehaviorConfiguration errorHandlingBehaviorConfiguration) {
    this.errorHandlingBehaviorConfiguration = errorHandlingBehaviorConfiguration;
    return this;
  }

  /** Connect and read timeout in milliseconds (default 5000; 0 waits for ever). */
  public PrometheusSinkBuilder setSocketTimeoutMs(int socketTimeoutMs) {
    this.socketTimeoutMs = socketTimeoutMs;
    return this;
  }

  /** The {@code User-Agent} header (default {@code promsink/<version>}). */
  public PrometheusSinkBuilder setHttpUserAgent(String httpUserAgent) {
    this.httpUserAgent = httpUserAgent;
    return this;
  }

  /** Name of the metric group holding the sink's counters (default "Prometheus"). */
  public PrometheusSinkBuilder setMetricGroupName(String metricGroupName) {
    this.metricGroupName = metricGroupName;
    return this;
  }

  /**
   * Adds headers to every request, computed from the request's headers and compressed body (for
   * example a signature). Called once per attempt, retries included, on the sender thread; the map
   * it receives holds the request's headers, and the Remote-Write headers cannot be replaced.
   */
  public PrometheusSinkBuilder setRequestSigner(PrometheusRequestSigner requestSigner) {
    this.requestSigner = requestSigner;
    return this;
  }

  /**
   * Adds a header to every request, e.g. {@code X-Scope-OrgID}. The Remote-Write headers
   * (Content-Encoding, Content-Type, X-Prometheus-Remote-Write-Version, User-Agent) are reserved.
   */
  public PrometheusSinkBuilder addHttpHeader(String name, String value) {
    httpHeaders.put(name, value);
    return this;
  }

  /**
   * Sending lanes of each sink writer (default {@value #DEFAULT_SENDING_LANES}, 1 to {@value
   * #MAX_SENDING_LANES}): the most requests in flight at once per writer. Every series is routed by
   * a hash of its labels to one lane; a lane has one request in flight and sends its pending series
   * in order, so per-series order holds while several requests are in flight. Unless {@link
   * #setMaxInFlightRequests} says otherwise, three times as many batches as lanes may be in flight,
   * so that the lanes stay busy against a distant receiver. The lanes in use adapt to the receiver
   * (see {@link #setAdaptiveSendingLanes}). With 1 lane the sink behaves like Apache's connector:
   * one request in flight per writer.
   */
  public PrometheusSinkBuilder setSendingLanes(int sendingLanes) {
    this.sendingLanes = sendingLanes;
    return this;
  }

  /**
   * Whether the sending lanes in use adapt to the receiver (default {@code true}): one lane at
   * first, twice as many (up to {@link #setSendingLanes}) while the lanes in use are saturated and
   * each raise measurably raises the throughput (a distant receiver), fewer when the traffic fits
   * into fewer requests (a fast or lightly loaded receiver then gets few, full requests). Batches
   * in flight follow the lanes in use. Per-series order holds across every change; each change is
   * logged at INFO and the gauge {@code activeSendingLanes} shows the count. With {@code false},
   * every lane is always in use.
   */
  public PrometheusSinkBuilder setAdaptiveSendingLanes(boolean adaptiveSendingLanes) {
    this.adaptiveSendingLanes = adaptiveSendingLanes;
    return this;
  }

  /**
   * The Remote-Write version to send (default {@link RemoteWriteVersion#V1}). With {@link
   * RemoteWriteVersion#V2} a receiver that speaks 2.0 (Prometheus 2.54 and later with 2.0 enabled)
   * writes what it can of each request, so samples it refuses (a replay after a restore) never take
   * fresh samples with them; a receiver that does not speak 2.0 gets 1.0 instead.
   */
  public PrometheusSinkBuilder setRemoteWriteVersion(RemoteWriteVersion remoteWriteVersion) {
    this.remoteWriteVersion = remoteWriteVersion;
    return this;
  }

  /**
   * HTTP basic authentication. The password never appears in logs, exceptions or {@code
   * toString()}. Not together with {@link #setBearerToken}.
   */
  public PrometheusSinkBuilder setBasicAuth(String username, String password) {
    this.basicAuthUsername = username;
    this.basicAuthPassword = password;
    return this;
  }

  /**
   * An {@code Authorization: Bearer} token. It never appears in logs, exceptions or {@code
   * toString()}. Not together with {@link #setBasicAuth}.
   */
  public PrometheusSinkBuilder setBearerToken(String bearerToken) {
    this.bearerToken = bearerToken;
    return this;
  }

  /**
   * A PEM file of the certificate authorities to trust for an {@code https://} endpoint, read by
   * each sink writer (so it must exist on the TaskManagers). Default: the Mozilla root store
   * bundled in the native library.
   */
  public PrometheusSinkBuilder setTlsCaCertificateFile(String tlsCaCertificateFile) {
    this.tlsCaCertificateFile = tlsCaCertificateFile;
    return this;
  }

  /**
   * How long a lane's request that is not full waits for more series (the next batches' share of
   * that lane) before it is sent (default {@value #DEFAULT_REQUEST_LINGER_MS} ms, 0 to {@value
   * #MAX_REQUEST_LINGER_MS}; 0: send what is there at once). Under load, requests leave full after
   * a fraction of this; with little traffic, a sample waits at most this much longer.
   *
   * @param requestLingerMs the wait in milliseconds
   * @return this builder
   */
  public PrometheusSinkBuilder setRequestLingerMs(long requestLingerMs) {
    this.requestLingerMs = requestLingerMs;
    return this;
  }

  /**
   * Batches in flight per writer (default: 3 x {@link #setSendingLanes lanes}, or 1 with one lane;
   * 1 to {@value #MAX_IN_FLIGHT_BATCHES}). Their series are spread over the lanes; more batches in
   * flight let each lane coalesce larger requests. (Apache's connector ignores this option.)
   */
  @Override
  public PrometheusSinkBuilder setMaxInFlightRequests(int maxInFlightRequests) {
    return super.setMaxInFlightRequests(maxInFlightRequests);
  }

  /** Not supported: batches are sized in samples ({@link #setMaxBatchSizeInSamples}). */
  @Override
  public PrometheusSinkBuilder setMaxBatchSizeInBytes(long maxBatchSizeInBytes) {
    throw new UnsupportedOperationException(
        "setMaxBatchSizeInBytes is not supported: use setMaxBatchSizeInSamples");
  }

  /** Not supported: records are sized in samples ({@link #setMaxRecordSizeInSamples}). */
  @Override
  public PrometheusSinkBuilder setMaxRecordSizeInBytes(long maxRecordSizeInBytes) {
    throw new UnsupportedOperationException(
        "setMaxRecordSizeInBytes is not supported: use setMaxRecordSizeInSamples");
  }

  /** Not supported: batches are sized in samples ({@link #setMaxBatchSizeInSamples}). */
  @Override
  public PrometheusSinkBuilder setMaxBatchSize(int maxBatchSize) {
    throw new UnsupportedOperationException(
        "setMaxBatchSize is not supported: use setMaxBatchSizeInSamples");
  }

  /** Checks every option and builds the sink. */
  @Override
  public PrometheusSink build() {
    String url = prometheusRemoteWriteUrl;
    if (url == null || url.trim().isEmpty()) {
      throw invalid("setPrometheusRemoteWriteUrl", url, "a non-blank http:// or https:// URL");
    }
    checkUrl(url.trim());
    int batch = orDefault(maxBatchSizeInSamples, DEFAULT_MAX_BATCH_SIZE_IN_SAMPLES);
    if (batch <= 1) {
      throw invalid("setMaxBatchSizeInSamples", batch, "2 to " + Integer.MAX_VALUE);
    }
    int record = orDefault(maxRecordSizeInSamples, batch);
    if (record < 1 || record > batch) {
      throw invalid(
          "setMaxRecordSizeInSamples",
          record,
          "1 to the max batch size in samples (" + batch + ")");
    }
    int buffered = orDefault(getMaxBufferedRequests(), DEFAULT_MAX_BUFFERED_REQUESTS);
    if (buffered <= batch) {
      throw invalid(
          "setMaxBufferedRequests",
          buffered,
          "more than the max batch size in samples (" + batch + ")");
    }
    long maxTime = orDefault(getMaxTimeInBufferMS(), DEFAULT_MAX_TIME_IN_BUFFER_MS);
    if (maxTime <= 0) {
      throw invalid("setMaxTimeInBufferMS", maxTime, "1 to " + Long.MAX_VALUE);
    }
    int lanes = orDefault(sendingLanes, DEFAULT_SENDING_LANES);
    if (lanes < 1 || lanes > MAX_SENDING_LANES) {
      throw invalid("setSendingLanes", lanes, "1 to " + MAX_SENDING_LANES);
    }
    long linger = orDefault(requestLingerMs, DEFAULT_REQUEST_LINGER_MS);
    if (linger < 0 || linger > MAX_REQUEST_LINGER_MS) {
      throw invalid("setRequestLingerMs", linger, "0 to " + MAX_REQUEST_LINGER_MS);
    }
    Integer inFlight = getMaxInFlightRequests();
    if (inFlight != null && (inFlight < 1 || inFlight > MAX_IN_FLIGHT_BATCHES)) {
      throw invalid("setMaxInFlightRequests", inFlight, "1 to " + MAX_IN_FLIGHT_BATCHES);
    }
    int inFlightBatches = inFlight != null ? inFlight : lanes == 1 ? 1 : 3 * lanes;
    RetryConfiguration retry =
        retryConfiguration != null
            ? retryConfiguration
            : RetryConfiguration.DEFAULT_RETRY_CONFIGURATION;
    if (retry.getInitialRetryDelayMS() <= 0) {
      throw invalid(
          "RetryConfiguration.setInitialRetryDelayMS",
          retry.getInitialRetryDelayMS(),
          "1 to " + Long.MAX_VALUE);
    }
    if (retry.getMaxRetryDelayMS() < retry.getInitialRetryDelayMS()) {
      throw invalid(
          "RetryConfiguration.setMaxRetryDelayMS",
          retry.getMaxRetryDelayMS(),
          "at least the initial retry delay (" + retry.getInitialRetryDelayMS() + ")");
    }
    if (retry.getMaxRetryCount() <= 0) {
      throw invalid(
          "RetryConfiguration.setMaxRetryCount",
          retry.getMaxRetryCount(),
          "1 to " + Integer.MAX_VALUE);
    }
    SinkWriterErrorHandlingBehaviorConfiguration behaviors =
        errorHandlingBehaviorConfiguration != null
            ? errorHandlingBehaviorConfiguration
            : SinkWriterErrorHandlingBehaviorConfiguration.DEFAULT_BEHAVIORS;
    if (behaviors.getOnMaxRetryExceeded() == null) {
      throw invalid("onMaxRetryExceeded", null, "FAIL or DISCARD_AND_CONTINUE");
    }
    if (behaviors.getOnPrometheusNonRetryableError() != OnErrorBehavior.DISCARD_AND_CONTINUE) {
      throw invalid(
          "onPrometheusNonRetryableError",
          behaviors.getOnPrometheusNonRetryableError(),
          "DISCARD_AND_CONTINUE only");
    }
    int socketTimeout = orDefault(socketTimeoutMs, DEFAULT_SOCKET_TIMEOUT_MS);
    if (socketTimeout < 0) {
      throw invalid("setSocketTimeoutMs", socketTimeout, "0 (no timeout) to " + Integer.MAX_VALUE);
    }
    if (httpUserAgent != null && httpUserAgent.trim().isEmpty()) {
      throw invalid("setHttpUserAgent", httpUserAgent, "a non-blank string");
    }
    String group = metricGroupName != null ? metricGroupName : DEFAULT_METRIC_GROUP_NAME;
    if (group.trim().isEmpty()) {
      throw invalid("setMetricGroupName", group, "a non-blank string");
    }
    boolean basicAuth = basicAuthUsername != null || basicAuthPassword != null;
    if (basicAuth) {
      if (basicAuthUsername == null
          || basicAuthUsername.isEmpty()
          || basicAuthUsername.indexOf(':') >= 0) {
        throw invalid("setBasicAuth(username)", basicAuthUsername, "a non-empty name without ':'");
      }
      if (basicAuthPassword == null) {
        throw invalid("setBasicAuth(password)", null, "a non-null password");
      }
    }
    if (bearerToken != null
        && (bearerToken.isEmpty()
            || bearerToken.indexOf('\r') >= 0
            || bearerToken.indexOf('\n') >= 0)) {
      throw invalid("setBearerToken", "<hidden>", "a non-empty token without CR/LF");
    }
    if (basicAuth && bearerToken != null) {
      throw invalid("setBearerToken", "<hidden>", "not together with setBasicAuth");
    }
    for (Map.Entry<String, String> h : httpHeaders.entrySet()) {
      checkHeader(h.getKey(), h.getValue());
      if (h.getKey().equalsIgnoreCase("authorization") && (basicAuth || bearerToken != null)) {
        throw invalid(
            "addHttpHeader", h.getKey(), "not together with setBasicAuth or setBearerToken");
      }
    }
    if (tlsCaCertificateFile != null && tlsCaCertificateFile.trim().isEmpty()) {
      throw invalid("setTlsCaCertificateFile", tlsCaCertificateFile, "a PEM file path");
    }
    if (remoteWriteVersion == null) {
      throw invalid("setRemoteWriteVersion", null, "V1 or V2");
    }

    Map<String, String> options = new LinkedHashMap<>();
    options.put("url", url.trim());
    if (httpUserAgent != null) {
      options.put("user_agent", httpUserAgent);
    }
    options.put("socket_timeout_ms", Integer.toString(socketTimeout));
    options.put("retry.initial_delay_ms", Long.toString(retry.getInitialRetryDelayMS()));
    options.put("retry.max_delay_ms", Long.toString(retry.getMaxRetryDelayMS()));
    options.put("retry.max_retries", Integer.toString(retry.getMaxRetryCount()));
    options.put("on_max_retries_exceeded", behaviors.getOnMaxRetryExceeded().name());
    options.put("lanes", Integer.toString(lanes));
    options.put("lanes.adaptive", Boolean.toString(adaptiveSendingLanes));
    options.put("max_request_samples", Integer.toString(batch));
    options.put("linger_ms", Long.toString(linger));
    options.put("remote_write.version", remoteWriteVersion.nativeValue());
    if (tlsCaCertificateFile != null) {
      options.put("tls.ca_file", tlsCaCertificateFile);
    }
    if (basicAuth) {
      options.put("auth.basic.username", basicAuthUsername);
      options.put("auth.basic.password", basicAuthPassword);
    }
    if (bearerToken != null) {
      options.put("auth.bearer_token", bearerToken);
    }
    for (Map.Entry<String, String> h : httpHeaders.entrySet()) {
      options.put("header." + h.getKey(), h.getValue());
    }
    return new PrometheusSink(
        batch, record, buffered, maxTime, inFlightBatches, lanes, options, group, requestSigner);
  }

  /** Checks the URL; messages show it without its query or credentials. */
  private static void checkUrl(String url) {
    String shown = PrometheusSink.redactedUrl(url);
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw invalid("setPrometheusRemoteWriteUrl", shown, "a valid URL");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
      throw invalid("setPrometheusRemoteWriteUrl", shown, "an http:// or https:// URL with a host");
    }
    if (uri.getRawUserInfo() != null) {
      throw invalid(
          "setPrometheusRemoteWriteUrl",
          shown,
          "a URL without user:password@ (credentials go to setBasicAuth, where they stay hidden)");
    }
  }

  private static void checkHeader(String name, String value) {
    if (name == null || !name.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
      throw invalid("addHttpHeader", name, "an HTTP header name (RFC 9110 token)");
    }
    if (RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT))) {
      throw invalid(
          "addHttpHeader",
          name,
          "any header but the reserved Content-Encoding, Content-Type,"
              + " X-Prometheus-Remote-Write-Version, User-Agent (use setHttpUserAgent), Host,"
              + " Content-Length, Transfer-Encoding and Connection");
    }
    if (value == null || value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0) {
      throw invalid("addHttpHeader(" + name + ")", "<hidden>", "a non-null value without CR/LF");
    }
  }

  private static <T> T orDefault(T value, T defaultValue) {
    return value != null ? value : defaultValue;
  }

  private static IllegalArgumentException invalid(String option, Object value, String allowed) {
    return new IllegalArgumentException(
        "Invalid " + option + ": " + value + "; allowed: " + allowed);
  }
}
