package dev.promsink.flink;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
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
 * <p>Flink serializes this type with {@link PrometheusTimeSeriesSerializer} (through {@link
 * PrometheusTimeSeriesTypeInfoFactory}), never with Kryo.
 */
@TypeInfo(PrometheusTimeSeriesTypeInfoFactory.class)
public final class PrometheusTimeSeries implements Serializable {

  private static final long serialVersionUID = 1L;

  private static final Label[] NO_LABELS = new Label[0];
  private static final Sample[] NO_SAMPLES = new Sample[0];

  private final String metricName;
  private final Label[] labels;
  private final Sample[] samples;

  /**
   * Creates a time series. The arrays are copied; {@code null} arrays are treated as empty.
   *
   * <p>Prefer {@link #builder()}.
   *
   * @param metricName the metric name, may be {@code null} or empty
   * @param labels the labels, without the metric name; no element may be {@code null}
   * @param samples the samples; no element may be {@code null}
   * @throws NullPointerException if an element of {@code labels} or {@code samples} is {@code null}
   */
  public PrometheusTimeSeries(String metricName, Label[] labels, Sample[] samples) {
    this(metricName, copyLabels(labels), copySamples(samples), true);
  }

  /** Trusted constructor: takes ownership of the arrays, which must not contain {@code null}. */
  private PrometheusTimeSeries(
      String metricName, Label[] labels, Sample[] samples, boolean trusted) {
    this.metricName = metricName;
    this.labels = labels;
    this.samples = samples;
  }

  /**
   * Creates a time series taking ownership of the given arrays, without copying or checking them.
   * Used by the builder and by the serializer.
   */
  static PrometheusTimeSeries ofTrusted(String metricName, Label[] labels, Sample[] samples) {
    return new PrometheusTimeSeries(
        metricName,
        labels.length == 0 ? NO_LABELS : labels,
        samples.length == 0 ? NO_SAMPLES : samples,
        true);
  }

  private static Label[] copyLabels(Label[] labels) {
    if (labels == null || labels.length == 0) {
      return NO_LABELS;
    }
    Label[] copy = labels.clone();
    for (int i = 0; i < copy.length; i++) {
      Objects.requireNonNull(copy[i], "labels[" + i + "] must not be null");
    }
    return copy;
  }

  private static Sample[] copySamples(Sample[] samples) {
    if (samples == null || samples.length == 0) {
      return NO_SAMPLES;
    }
    Sample[] copy = samples.clone();
    for (int i = 0; i < copy.length; i++) {
      Objects.requireNonNull(copy[i], "samples[" + i + "] must not be null");
    }
    return copy;
  }

  /**
   * Returns the metric name.
   *
   * @return the metric name; may be {@code null} or empty if none was set
   */
  public String getMetricName() {
    return metricName;
  }

  /**
   * Returns the labels, in the order in which they were added, not including the metric name.
   *
   * @return a copy of the labels (the record stays immutable), never {@code null}
   */
  public Label[] getLabels() {
    return labels.length == 0 ? labels : labels.clone();
  }

  /**
   * Returns the samples, in the order in which they were added.
   *
   * @return a copy of the samples (the record stays immutable), never {@code null}
   */
  public Sample[] getSamples() {
    return samples.length == 0 ? samples : samples.clone();
  }

  /** The labels themselves, for the sink's own read-only use (no copy). */
  Label[] labels() {
    return labels;
  }

  /** The samples themselves, for the sink's own read-only use (no copy). */
  Sample[] samples() {
    return samples;
  }

  /**
   * Returns the number of samples.
   *
   * @return the number of samples in this time series
   */
  public int getSampleCount() {
    return samples.length;
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
    Builder builder = new Builder();
    builder.metricName = other.metricName;
    Collections.addAll(builder.labels, other.labels);
    Collections.addAll(builder.samples, other.samples);
    return builder;
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof PrometheusTimeSeries)) {
      return false;
    }
    PrometheusTimeSeries that = (PrometheusTimeSeries) o;
    return Objects.equals(metricName, that.metricName)
        && Arrays.equals(labels, that.labels)
        && Arrays.equals(samples, that.samples);
  }

  @Override
  public int hashCode() {
    int result = Objects.hashCode(metricName);
    result = 31 * result + Arrays.hashCode(labels);
    result = 31 * result + Arrays.hashCode(samples);
    return result;
  }

  @Override
  public String toString() {
    return "PrometheusTimeSeries{metricName="
        + (metricName == null ? "null" : "'" + metricName + "'")
        + ", labels="
        + Arrays.toString(labels)
        + ", samples="
        + Arrays.toString(samples)
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
    private final List<Label> labels = new ArrayList<>();
    private final List<Sample> samples = new ArrayList<>();

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
      labels.add(new Label(name, value));
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
      samples.add(new Sample(value, timestampMs));
      return this;
    }

    /**
     * Builds the time series.
     *
     * @return a new immutable time series holding what was added, in order
     */
    public PrometheusTimeSeries build() {
      return ofTrusted(metricName, labels.toArray(NO_LABELS), samples.toArray(NO_SAMPLES));
    }
  }
}
