package dev.promsink.flink;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;
import org.apache.flink.api.common.typeinfo.TypeInfo;

/**
 * One Prometheus time series to be written by the sink: an optional metric name, a list of labels
 * and a list of samples.
 *
 * <p>The API mirrors the input record of Apache's {@code flink-connector-prometheus}, so a job can
 * switch between the two sinks by changing imports.
 *
 * <p>Instances are immutable and are created through {@link #builder()} or {@link
 * #builderFrom(PrometheusTimeSeries)}. The builder performs no validation of metric or label names
 * (a missing metric name is allowed too): the native writer validates each series and drops, and
 * counts, the invalid ones. Only {@code null} label names and values are rejected up front.
 *
 * <p>The metric name is sent as the {@code __name__} label. Labels and samples are sent in the
 * order in which they were added.
 *
 * <p>A record holds its series in the sink's wire form (one entry of the JNI batch format, written
 * once by the builder): Flink's serializer ({@link PrometheusTimeSeriesSerializer}, never Kryo) and
 * the sink copy those bytes, the key selector hashes them, and the getters decode them on demand.
 */
@TypeInfo(PrometheusTimeSeriesTypeInfoFactory.class)
public final class PrometheusTimeSeries implements Serializable {

  private static final long serialVersionUID = 2L;

  private static final Label[] NO_LABELS = new Label[0];
  private static final Sample[] NO_SAMPLES = new Sample[0];

  /** The series as a batch-format entry ({@link SeriesEntry}). */
  private final byte[] entry;

  /** False when no metric name was set (the entry holds an empty one). */
  private final boolean hasMetricName;

  /**
   * The series key ({@link SeriesEntry#key}), once known; {@link #keyIsZero} tells a key of 0 from
   * one not yet computed. Racy like {@code String.hash}: a thread that sees neither computes it.
   */
  private transient int key;

  private transient boolean keyIsZero;

  /**
   * Creates a time series from copies of the arrays; {@code null} arrays are treated as empty.
   *
   * <p>Prefer {@link #builder()}.
   *
   * @param metricName the metric name, may be {@code null} or empty
   * @param labels the labels, without the metric name; no element may be {@code null}
   * @param samples the samples; no element may be {@code null}
   * @throws NullPointerException if an element of {@code labels} or {@code samples} is {@code null}
   */
  public PrometheusTimeSeries(String metricName, Label[] labels, Sample[] samples) {
    this(encode(metricName, labels, samples), metricName != null);
  }

  /** Takes ownership of a checked entry. */
  private PrometheusTimeSeries(byte[] entry, boolean hasMetricName) {
    this.entry = entry;
    this.hasMetricName = hasMetricName;
  }

  /** A record of an entry that is well-formed (written by {@link SeriesEntry} or checked). */
  static PrometheusTimeSeries ofEntry(byte[] entry, boolean hasMetricName) {
    return new PrometheusTimeSeries(entry, hasMetricName);
  }

  /**
   * A record of a well-formed entry whose key, {@link SeriesEntry#key} of it, is already known
   * (carried over the wire by the side that computed it), so a keyed input does not hash it again.
   */
  static PrometheusTimeSeries ofEntry(byte[] entry, boolean hasMetricName, int key) {
    PrometheusTimeSeries record = new PrometheusTimeSeries(entry, hasMetricName);
    record.keepKey(key);
    return record;
  }

  private static byte[] encode(String metricName, Label[] labels, Sample[] samples) {
    Builder b = new Builder().withMetricName(metricName);
    for (int i = 0; labels != null && i < labels.length; i++) {
      Objects.requireNonNull(labels[i], "labels[" + i + "] must not be null");
      b.addLabel(labels[i].getName(), labels[i].getValue());
    }
    for (int i = 0; samples != null && i < samples.length; i++) {
      Objects.requireNonNull(samples[i], "samples[" + i + "] must not be null");
      b.addSample(samples[i].getValue(), samples[i].getTimestamp());
    }
    return b.entry();
  }

  /** A record read with Java serialization is checked like one read by Flink's serializer. */
  private void readObject(java.io.ObjectInputStream in)
      throws java.io.IOException, ClassNotFoundException {
    in.defaultReadObject();
    if (entry == null) {
      throw new java.io.InvalidObjectException("Corrupt PrometheusTimeSeries: no entry");
    }
    SeriesEntry.check(entry);
  }

  /**
   * The key of the series: {@link SeriesEntry#key} of the entry, computed when first asked (only a
   * keyed stream asks) and then kept.
   */
  int key() {
    int k = key;
    if (k == 0 && !keyIsZero) {
      k = SeriesEntry.key(entry);
      keepKey(k);
    }
    return k;
  }

  private void keepKey(int k) {
    if (k == 0) {
      keyIsZero = true;
    } else {
      key = k;
    }
  }

  /** Whether {@link #key()} has been computed (or carried in): asking it now costs nothing. */
  boolean keyKnown() {
    return key != 0 || keyIsZero;
  }

  /** The entry itself, for the sink's own read-only use (no copy). */
  byte[] entry() {
    return entry;
  }

  /** Whether a metric name was set (possibly empty). */
  boolean hasMetricName() {
    return hasMetricName;
  }

  /**
   * Returns the metric name.
   *
   * @return the metric name; may be {@code null} or empty if none was set
   */
  public String getMetricName() {
    return hasMetricName ? SeriesEntry.string(entry, SeriesEntry.HEADER) : null;
  }

  /**
   * Returns the labels, in the order in which they were added, not including the metric name.
   *
   * @return new label objects decoded from the record (it stays immutable), never {@code null}
   */
  public Label[] getLabels() {
    int n = SeriesEntry.labelCount(entry);
    if (n == 0) {
      return NO_LABELS;
    }
    Label[] labels = new Label[n];
    int pos = SeriesEntry.skipString(entry, SeriesEntry.HEADER);
    for (int i = 0; i < n; i++) {
      String name = SeriesEntry.string(entry, pos);
      pos = SeriesEntry.skipString(entry, pos);
      labels[i] = new Label(name, SeriesEntry.string(entry, pos));
      pos = SeriesEntry.skipString(entry, pos);
    }
    return labels;
  }

  /**
   * Returns the samples, in the order in which they were added.
   *
   * @return new sample objects decoded from the record, never {@code null}
   */
  public Sample[] getSamples() {
    int n = SeriesEntry.sampleCount(entry);
    if (n == 0) {
      return NO_SAMPLES;
    }
    Sample[] samples = new Sample[n];
    int pos = SeriesEntry.samplesOffset(entry);
    for (int i = 0; i < n; i++, pos += SeriesEntry.SAMPLE) {
      samples[i] = new Sample(SeriesEntry.value(entry, pos), SeriesEntry.timestamp(entry, pos));
    }
    return samples;
  }

  /**
   * Returns the number of samples.
   *
   * @return the number of samples in this time series
   */
  public int getSampleCount() {
    return SeriesEntry.sampleCount(entry);
  }

  /**
   * Returns a new, empty builder.
   *
   * @return a builder with no metric name, no labels and no samples
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns a new builder holding the metric name, labels and samples of {@code other}, so that
   * more labels or samples can be added or the metric name changed. {@code other} is not modified.
   *
   * @param other the time series to copy
   * @return a builder initialised from {@code other}
   * @throws NullPointerException if {@code other} is {@code null}
   */
  public static Builder builderFrom(PrometheusTimeSeries other) {
    Objects.requireNonNull(other, "other must not be null");
    Builder builder = new Builder().withMetricName(other.getMetricName());
    for (Label l : other.getLabels()) {
      builder.addLabel(l.getName(), l.getValue());
    }
    for (Sample s : other.getSamples()) {
      builder.addSample(s.getValue(), s.getTimestamp());
    }
    return builder;
  }

  /**
   * Equal when the metric names (null differs from empty), the labels in order and the samples in
   * order are; sample values compare like {@link Sample#equals} (every NaN equals every other).
   */
  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof PrometheusTimeSeries)) {
      return false;
    }
    PrometheusTimeSeries that = (PrometheusTimeSeries) o;
    if (hasMetricName != that.hasMetricName || entry.length != that.entry.length) {
      return false;
    }
    int samplesAt = SeriesEntry.samplesOffset(entry);
    if (samplesAt != SeriesEntry.samplesOffset(that.entry)
        || !Arrays.equals(entry, 0, samplesAt, that.entry, 0, samplesAt)) {
      return false;
    }
    for (int pos = samplesAt; pos < entry.length; pos += SeriesEntry.SAMPLE) {
      if (SeriesEntry.timestamp(entry, pos) != SeriesEntry.timestamp(that.entry, pos)
          || Double.doubleToLongBits(SeriesEntry.value(entry, pos))
              != Double.doubleToLongBits(SeriesEntry.value(that.entry, pos))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int hashCode() {
    int samplesAt = SeriesEntry.samplesOffset(entry);
    int result = 31 * Boolean.hashCode(hasMetricName) + key();
    for (int pos = samplesAt; pos < entry.length; pos += SeriesEntry.SAMPLE) {
      result =
          31 * result
              + Long.hashCode(Double.doubleToLongBits(SeriesEntry.value(entry, pos)))
              + Long.hashCode(SeriesEntry.timestamp(entry, pos));
    }
    return result;
  }

  @Override
  public String toString() {
    String metricName = getMetricName();
    return "PrometheusTimeSeries{metricName="
        + (metricName == null ? "null" : "'" + metricName + "'")
        + ", labels="
        + Arrays.toString(getLabels())
        + ", samples="
        + Arrays.toString(getSamples())
        + '}';
  }

  /** A label: a name and a value. Immutable. */
  public static final class Label implements Serializable {

    private static final long serialVersionUID = 1L;

    private final String name;
    private final String value;

    /**
     * Creates a label.
     *
     * @param name the label name, not {@code null}
     * @param value the label value, not {@code null}
     * @throws NullPointerException if {@code name} or {@code value} is {@code null}
     */
    public Label(String name, String value) {
      this.name = Objects.requireNonNull(name, "label name must not be null");
      this.value = Objects.requireNonNull(value, "label value must not be null");
    }

    /**
     * Returns the label name.
     *
     * @return the name, never {@code null}
     */
    public String getName() {
      return name;
    }

    /**
     * Returns the label value.
     *
     * @return the value, never {@code null}
     */
    public String getValue() {
      return value;
    }

    @Override
    public boolean equals(Object o) {
      if (this == o) {
        return true;
      }
      if (!(o instanceof Label)) {
        return false;
      }
      Label that = (Label) o;
      return name.equals(that.name) && value.equals(that.value);
    }

    @Override
    public int hashCode() {
      return 31 * name.hashCode() + value.hashCode();
    }

    @Override
    public String toString() {
      return "Label{name='" + name + "', value='" + value + "'}";
    }
  }

  /** A sample: a value and a timestamp in milliseconds since the epoch. Immutable. */
  public static final class Sample implements Serializable {

    private static final long serialVersionUID = 1L;

    private final double value;
    private final long timestamp;

    /**
     * Creates a sample.
     *
     * @param value the value; any double, including NaN and the Prometheus staleness marker
     * @param timestamp the timestamp in milliseconds since the epoch
     */
    public Sample(double value, long timestamp) {
      this.value = value;
      this.timestamp = timestamp;
    }

    /**
     * Returns the value.
     *
     * @return the sample value
     */
    public double getValue() {
      return value;
    }

    /**
     * Returns the timestamp.
     *
     * @return the timestamp in milliseconds since the epoch
     */
    public long getTimestamp() {
      return timestamp;
    }

    /**
     * Compares value and timestamp. Values are compared like {@link Double#compare}, through {@link
     * Double#doubleToLongBits}: every NaN equals every other NaN (so the staleness marker equals
     * any other NaN here, although the serializer keeps the exact bits), and {@code 0.0} differs
     * from {@code -0.0}.
     */
    @Override
    public boolean equals(Object o) {
      if (this == o) {
        return true;
      }
      if (!(o instanceof Sample)) {
        return false;
      }
      Sample that = (Sample) o;
      return timestamp == that.timestamp
          && Double.doubleToLongBits(value) == Double.doubleToLongBits(that.value);
    }

    @Override
    public int hashCode() {
      return 31 * Double.hashCode(value) + Long.hashCode(timestamp);
    }

    @Override
    public String toString() {
      return "Sample{value=" + value + ", timestamp=" + timestamp + '}';
    }
  }

  /**
   * Builds a {@link PrometheusTimeSeries}. Not thread-safe. A builder may be used again after
   * {@link #build()}: the built record does not share state with it.
   */
  public static final class Builder {

    private String metricName;
    private String[] labelNames = new String[8];
    private String[] labelValues = new String[8];
    private int labels;
    private double[] values = new double[1];
    private long[] timestamps = new long[1];
    private int samples;

    private Builder() {}

    /**
     * Sets the metric name, replacing any previous one. The name is not validated here.
     *
     * @param metricName the metric name; may be {@code null} or empty
     * @return this builder
     */
    public Builder withMetricName(String metricName) {
      this.metricName = metricName;
      return this;
    }

    /**
     * Adds a label after those already added. The name is not validated here.
     *
     * @param name the label name, not {@code null}
     * @param value the label value, not {@code null}
     * @return this builder
     * @throws NullPointerException if {@code name} or {@code value} is {@code null}
     */
    public Builder addLabel(String name, String value) {
      Objects.requireNonNull(name, "label name must not be null");
      Objects.requireNonNull(value, "label value must not be null");
      if (labels == labelNames.length) {
        labelNames = Arrays.copyOf(labelNames, 2 * labels);
        labelValues = Arrays.copyOf(labelValues, 2 * labels);
      }
      labelNames[labels] = name;
      labelValues[labels++] = value;
      return this;
    }

    /**
     * Adds a sample after those already added.
     *
     * @param value the sample value
     * @param timestampMs the timestamp in milliseconds since the epoch
     * @return this builder
     */
    public Builder addSample(double value, long timestampMs) {
      if (samples == values.length) {
        values = Arrays.copyOf(values, 2 * samples);
        timestamps = Arrays.copyOf(timestamps, 2 * samples);
      }
      values[samples] = value;
      timestamps[samples++] = timestampMs;
      return this;
    }

    private byte[] entry() {
      return SeriesEntry.encode(
          metricName, labelNames, labelValues, labels, values, timestamps, samples);
    }

    /**
     * Builds the time series.
     *
     * @return a new immutable time series holding what was added, in order
     */
    public PrometheusTimeSeries build() {
      return new PrometheusTimeSeries(entry(), metricName != null);
    }
  }
}
