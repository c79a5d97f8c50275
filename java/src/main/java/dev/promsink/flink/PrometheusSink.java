package dev.promsink.flink;

import java.io.IOException;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.AsyncSinkBase;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.ElementConverter;
import org.apache.flink.connector.base.sink.writer.config.AsyncSinkWriterConfiguration;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * A Flink sink writing {@link PrometheusTimeSeries} to a Prometheus Remote-Write endpoint through a
 * native (Rust) core. Build it with {@link #builder()}; use it with {@code stream.keyBy(new
 * PrometheusTimeSeriesLabelsAndMetricNameKeySelector()).sinkTo(sink)}.
 */
public class PrometheusSink extends AsyncSinkBase<PrometheusTimeSeries, PrometheusTimeSeries>
    implements FlinkLineSink<PrometheusTimeSeries> {
  private static final long serialVersionUID = 1L;

  /**
   * Flink's own request timeout is disabled in effect: the native client bounds every attempt
   * (socket timeout) and owns retries, possibly for ever. A Flink timeout would queue the same
   * entries again while the native side still retries them (duplicates, two requests in flight).
   * The value stays far from overflow when Flink adds it to the current time.
   */
  static final long NEVER_TIME_OUT_MS = Long.MAX_VALUE / 4;

  private final Map<String, String> nativeOptions;
  private final String metricGroupName;
  private final int maxRecordSizeInSamples;
  private final int sendingLanes;
  private final PrometheusRequestSigner requestSigner;

  PrometheusSink(
      int maxBatchSizeInSamples,
      int maxRecordSizeInSamples,
      int maxBufferedRequests,
      long maxTimeInBufferMS,
      int maxInFlightBatches,
      int sendingLanes,
      Map<String, String> nativeOptions,
      String metricGroupName,
      PrometheusRequestSigner requestSigner) {
    super(
        // Records are immutable: buffered as they are, encoded once per batch (BatchEncoder).
        (ElementConverter<PrometheusTimeSeries, PrometheusTimeSeries>)
            (element, context) -> element,
        maxBatchSizeInSamples,
        maxInFlightBatches,
        maxBufferedRequests,
        maxBatchSizeInSamples,
        maxTimeInBufferMS,
        maxRecordSizeInSamples,
        NEVER_TIME_OUT_MS,
        true);
    this.nativeOptions = Collections.unmodifiableMap(new LinkedHashMap<>(nativeOptions));
    this.metricGroupName = metricGroupName;
    this.maxRecordSizeInSamples = maxRecordSizeInSamples;
    this.sendingLanes = sendingLanes;
    this.requestSigner = requestSigner;
  }

  /** A builder with the Apache connector's options and defaults. */
  public static PrometheusSinkBuilder builder() {
    return new PrometheusSinkBuilder();
  }

  @Override
  public StatefulSinkWriter<PrometheusTimeSeries, BufferedRequestState<PrometheusTimeSeries>>
      createWriter(WriterInitContext context) throws IOException {
    return restoreWriter(context, Collections.emptyList());
  }

  @Override
  public StatefulSinkWriter<PrometheusTimeSeries, BufferedRequestState<PrometheusTimeSeries>>
      restoreWriter(
          WriterInitContext context, Collection<BufferedRequestState<PrometheusTimeSeries>> states)
          throws IOException {
    LaneInFlightStrategy inFlight =
        new LaneInFlightStrategy(
            getMaxInFlightRequests(),
            sendingLanes,
            Boolean.parseBoolean(nativeOptions.get("lanes.adaptive")) ? 1 : sendingLanes,
            getMaxBatchSize());
    AsyncSinkWriterConfiguration configuration =
        AsyncSinkWriterConfiguration.builder()
            .setMaxBatchSize(getMaxBatchSize())
            .setMaxBatchSizeInBytes(getMaxBatchSizeInBytes())
            .setMaxInFlightRequests(getMaxInFlightRequests())
            .setMaxBufferedRequests(getMaxBufferedRequests())
            .setMaxTimeInBufferMS(getMaxTimeInBufferMS())
            .setMaxRecordSizeInBytes(getMaxRecordSizeInBytes())
            .setRequestTimeoutMS(getRequestTimeoutMS())
            .setFailOnTimeout(getFailOnTimeout())
            .setRateLimitingStrategy(inFlight)
            .build();
    return new PrometheusSinkWriter(
        getElementConverter(),
        context,
        configuration,
        inFlight,
        states,
        nativeOptions,
        metricGroupName,
        maxRecordSizeInSamples,
        requestSigner);
  }

  @Override
  public SimpleVersionedSerializer<BufferedRequestState<PrometheusTimeSeries>>
      getWriterStateSerializer() {
    return new PrometheusTimeSeriesStateSerializer();
  }

  /** The configuration in one line, for logs. */
  @Override
  public String toString() {
    return "PrometheusSink{maxBatchSizeInSamples="
        + getMaxBatchSize()
        + ", maxRecordSizeInSamples="
        + getMaxRecordSizeInBytes()
        + ", maxBufferedRequests="
        + getMaxBufferedRequests()
        + ", maxTimeInBufferMS="
        + getMaxTimeInBufferMS()
        + ", maxInFlightBatches="
        + getMaxInFlightRequests()
        + ", metricGroupName="
        + metricGroupName
        + ", requestSigner="
        + (requestSigner == null ? "none" : requestSigner.getClass().getName())
        + ", native="
        + printable(nativeOptions)
        + "}";
  }

  /** The native options with credentials, header values and the URL's query hidden. */
  static Map<String, String> printable(Map<String, String> options) {
    Map<String, String> out = new LinkedHashMap<>();
    options.forEach(
        (k, v) ->
            out.put(
                k,
                k.startsWith("header.")
                        || k.equals("auth.basic.password")
                        || k.equals("auth.bearer_token")
                    ? "<hidden>"
                    : k.equals("url") ? redactedUrl(v) : v));
    return out;
  }

  /**
   * {@code url} as it may be shown: its query (often an API key) and any {@code user:password@}
   * replaced by {@code <hidden>}. The native client shows its endpoint by the same rule.
   */
  static String redactedUrl(String url) {
    if (url == null) {
      return null;
    }
    int query = url.indexOf('?');
    String out = query < 0 ? url : url.substring(0, query + 1) + "<hidden>";
    int authority = out.indexOf("://") + 3;
    if (authority >= 3) {
      int end = authority;
      while (end < out.length() && "/?#".indexOf(out.charAt(end)) < 0) {
        end++;
      }
      int at = out.lastIndexOf('@', end - 1);
      if (at >= authority) {
        out = out.substring(0, authority) + "<hidden>@" + out.substring(at + 1);
      }
    }
    return out;
  }

  /** The options handed to the native client, credentials included: never log them. */
  Map<String, String> nativeOptions() {
    return nativeOptions;
  }
}
