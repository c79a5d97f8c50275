package dev.promsink.flink;

import dev.promsink.flink.internal.jni.BatchCallback;
import dev.promsink.flink.internal.jni.NativeClient;
import dev.promsink.flink.internal.jni.NativeException;
import dev.promsink.flink.internal.jni.RequestSigning;
import dev.promsink.flink.internal.jni.SinkCounter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.ElementConverter;
import org.apache.flink.connector.base.sink.writer.ResultHandler;
import org.apache.flink.connector.base.sink.writer.config.AsyncSinkWriterConfiguration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink writer: Flink batches the records; each batch becomes one direct buffer ({@link
 * BatchEncoder}) and one JNI call. Validation, encoding, compression, HTTP, retries and counting
 * happen natively; the native sender thread completes the batch, so the mailbox thread never waits
 * on HTTP.
 */
final class PrometheusSinkWriter
    extends FlinkLineAsyncSinkWriter<PrometheusTimeSeries, PrometheusTimeSeries> {
  private static final Logger LOG = LoggerFactory.getLogger(PrometheusSinkWriter.class);

  private final NativeClient client;
  private final LaneInFlightStrategy inFlight;
  private final int maxRecordSizeInSamples;
  private volatile long[] counters = new long[SinkCounter.values().length];
  private final BatchEncoder batchEncoder = new BatchEncoder();

  PrometheusSinkWriter(
      ElementConverter<PrometheusTimeSeries, PrometheusTimeSeries> elementConverter,
      WriterInitContext context,
      AsyncSinkWriterConfiguration configuration,
      LaneInFlightStrategy inFlight,
      Collection<BufferedRequestState<PrometheusTimeSeries>> states,
      Map<String, String> nativeOptions,
      String metricGroupName,
      int maxRecordSizeInSamples,
      PrometheusRequestSigner requestSigner) {
    super(elementConverter, context, configuration, states);
    this.maxRecordSizeInSamples = maxRecordSizeInSamples;
    this.inFlight = inFlight;
    this.client = createClient(nativeOptions, requestSigner);
    try {
      registerCounters(context.metricGroup().addGroup(metricGroupName));
    } catch (RuntimeException | Error e) {
      client.close(); // no sender threads left behind by a writer that never existed
      throw e;
    }
  }

  /**
   * Starts the native client. What it refuses here (options checked only on the TaskManager, such
   * as a CA file it cannot read) reaches the job as a {@link PrometheusSinkException}: {@link
   * NativeException} is internal.
   */
  private static NativeClient createClient(
      Map<String, String> nativeOptions, PrometheusRequestSigner requestSigner) {
    try {
      return NativeClient.create(
          nativeOptions, requestSigner == null ? null : new Signing(requestSigner));
    } catch (NativeException e) {
      throw new PrometheusSinkException(
          "promsink could not start its sink writer: " + e.getMessage(), e);
    }
  }

  /**
   * Publishes a snapshot of the native counters. Lanes complete batches concurrently, so an older
   * snapshot can arrive after a newer one: keep the largest value of each monotonic counter.
   */
  private synchronized void updateCounters(long[] snapshot) {
    long[] merged = counters.clone();
    for (int i = 0; i < merged.length && i < snapshot.length; i++) {
      merged[i] = Math.max(merged[i], snapshot[i]);
    }
    counters = merged;
  }

  private void registerCounters(MetricGroup group) {
    for (SinkCounter c : SinkCounter.values()) {
      group.counter(c.metricName(), new NativeCounter(c.ordinal()));
    }
    group.gauge("activeSendingLanes", (Gauge<Integer>) inFlight::activeLanes);
  }

  /** Splits a record with more samples than the max record size instead of failing the job. */
  @Override
  public void write(PrometheusTimeSeries element, Context context)
      throws IOException, InterruptedException {
    int samples = element.getSampleCount();
    if (samples <= maxRecordSizeInSamples) {
      super.write(element, context);
      return;
    }
    for (int from = 0; from < samples; from += maxRecordSizeInSamples) {
      int to = Math.min(samples, from + maxRecordSizeInSamples);
      super.write(
          PrometheusTimeSeries.ofEntry(
              SeriesEntry.slice(element.entry(), from, to), element.hasMetricName()),
          context);
    }
  }

  @Override
  protected void submitRequestEntries(
      List<PrometheusTimeSeries> entries, ResultHandler<PrometheusTimeSeries> resultHandler) {
    ByteBuffer batchBuffer = batchEncoder.encode(entries);
    try {
      client.submit(batchBuffer, batchBuffer.limit(), new Completion(resultHandler));
    } catch (NativeException e) {
      resultHandler.completeExceptionally(
          new PrometheusSinkWriteException("promsink could not submit a batch", e));
    }
  }

  @Override
  protected long getSizeInBytes(PrometheusTimeSeries entry) {
    return entry.getSampleCount();
  }

  @Override
  public void close() {
    try {
      super.close();
    } finally {
      client.close();
      updateCounters(client.counters());
      LOG.info("Closed; counters of this writer: {}", countersText());
    }
  }

  /** The counters as {@code name=value} pairs, for the closing log line. */
  private String countersText() {
    StringBuilder text = new StringBuilder();
    for (SinkCounter c : SinkCounter.values()) {
      text.append(text.length() == 0 ? "" : ", ")
          .append(c.metricName())
          .append('=')
          .append(counters[c.ordinal()]);
    }
    return text.toString();
  }

  /** Adapts the user's signer to the native client: headers in a map, the additions back. */
  private static final class Signing implements RequestSigning {
    private final PrometheusRequestSigner signer;

    Signing(PrometheusRequestSigner signer) {
      this.signer = signer;
    }

    @Override
    public String[] sign(String[] headers, byte[] body) {
      Map<String, String> map = new LinkedHashMap<>();
      for (int i = 0; i + 1 < headers.length; i += 2) {
        map.put(headers[i], headers[i + 1]);
      }
      Map<String, String> before = new HashMap<>(map);
      signer.addSignatureHeaders(map, body);
      List<String> changed = new ArrayList<>();
      map.forEach(
          (name, value) -> {
            if (value != null && !value.equals(before.get(name))) {
              changed.add(name);
              changed.add(value);
            }
          });
      return changed.toArray(new String[0]);
    }
  }

  /** Completes one batch from the native sender thread. */
  private final class Completion implements BatchCallback {
    private final ResultHandler<PrometheusTimeSeries> resultHandler;

    Completion(ResultHandler<PrometheusTimeSeries> resultHandler) {
      this.resultHandler = resultHandler;
    }

    @Override
    public void onComplete(
        int outcome,
        String message,
        int status,
        String body,
        long invalidSeries,
        long invalidSamples,
        String firstInvalid,
        long[] counterValues,
        long lanes) {
      try {
        updateCounters(counterValues);
        int previousLanes = inFlight.updateLanes(lanes);
        if (previousLanes > 0) {
          LOG.info("Sending lanes in use: {} -> {}", previousLanes, inFlight.activeLanes());
        }
        if (invalidSeries > 0) {
          LOG.warn(
              "Dropped {} invalid series ({} samples) of a batch; the rest was sent. First: {}",
              invalidSeries,
              invalidSamples,
              firstInvalid);
        }
      } catch (Throwable t) {
        // The batch is completed whatever happens here: a batch left in flight would hold the
        // next checkpoint for ever. The job fails with the cause instead.
        resultHandler.completeExceptionally(
            new PrometheusSinkWriteException("promsink could not complete a batch: " + t, t));
        return;
      }
      switch (outcome) {
        case WRITTEN:
          if (!message.isEmpty()) {
            LOG.warn("{}", message); // a notice: the switch from Remote-Write 2.0 to 1.0
          }
          resultHandler.complete();
          break;
        case DROPPED_NON_RETRYABLE:
        case DROPPED_RETRY_LIMIT:
          if (!message.isEmpty()) { // told with the request's first part only: logged once
            LOG.warn("Dropped a write request: {}", message);
          }
          resultHandler.complete();
          break;
        default:
          resultHandler.completeExceptionally(
              new PrometheusSinkWriteException(message, status, body));
      }
    }
  }

  /** A Flink counter showing a native counter; only the native client changes it. */
  private final class NativeCounter implements Counter {
    private final int index;

    NativeCounter(int index) {
      this.index = index;
    }

    @Override
    public long getCount() {
      return counters[index];
    }

    @Override
    public void inc() {
      throw new UnsupportedOperationException("promsink counters are maintained natively");
    }

    @Override
    public void inc(long n) {
      throw new UnsupportedOperationException("promsink counters are maintained natively");
    }

    @Override
    public void dec() {
      throw new UnsupportedOperationException("promsink counters are maintained natively");
    }

    @Override
    public void dec(long n) {
      throw new UnsupportedOperationException("promsink counters are maintained natively");
    }
  }
}
