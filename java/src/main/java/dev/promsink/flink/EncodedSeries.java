package dev.promsink.flink;

import dev.promsink.flink.jni.BatchFormat;
import java.io.Serializable;

/**
 * One series as a request entry buffered by the sink: the entry body of the JNI batch format
 * ({@code docs/batch-format.md}). Internal to the sink; public only because Flink's sink API
 * exposes the request-entry type.
 */
public final class EncodedSeries implements Serializable {
  private static final long serialVersionUID = 1L;

  private final byte[] bytes;

  EncodedSeries(byte[] bytes) {
    this.bytes = bytes;
  }

  /** Encodes a record. */
  static EncodedSeries of(PrometheusTimeSeries series) {
    PrometheusTimeSeries.Label[] labels = series.getLabels();
    String[] pairs = new String[labels.length * 2];
    for (int i = 0; i < labels.length; i++) {
      pairs[2 * i] = labels[i].getName();
      pairs[2 * i + 1] = labels[i].getValue();
    }
    PrometheusTimeSeries.Sample[] samples = series.getSamples();
    double[] values = new double[samples.length];
    long[] timestamps = new long[samples.length];
    for (int i = 0; i < samples.length; i++) {
      values[i] = samples[i].getValue();
      timestamps[i] = samples[i].getTimestamp();
    }
    return new EncodedSeries(
        BatchFormat.encodeEntry(series.getMetricName(), pairs, values, timestamps));
  }

  /** The entry body. */
  byte[] bytes() {
    return bytes;
  }

  /** Number of samples, the entry's size as far as batching is concerned. */
  int sampleCount() {
    return BatchFormat.sampleCount(bytes);
  }
}
