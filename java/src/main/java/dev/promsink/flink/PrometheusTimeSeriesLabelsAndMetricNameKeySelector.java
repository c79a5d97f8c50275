package dev.promsink.flink;

import org.apache.flink.api.java.functions.KeySelector;

/**
 * Keys a {@link PrometheusTimeSeries} by its identity: the metric name and every label name and
 * value, in the order given. Samples are ignored, so every record of one series gets the same key.
 *
 * <p>Prometheus requires the samples of one series to arrive in timestamp order. When the sink runs
 * with parallelism greater than 1, the stream <b>must</b> be partitioned with this selector before
 * the sink, so that each series is always written by the same subtask:
 *
 * <pre>{@code
 * stream
 *     .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
 *     .sinkTo(sink);
 * }</pre>
 *
 * <p>Without it, two subtasks may write samples of the same series concurrently and Prometheus
 * rejects the ones that arrive out of order. The series' labels must also be added in the same
 * order in every record, because the order is part of the key.
 *
 * <p>The key is computed only from {@link String#hashCode()} values combined with a 31 multiplier,
 * so it is the same in every JVM and across restarts.
 */
public class PrometheusTimeSeriesLabelsAndMetricNameKeySelector
    implements KeySelector<PrometheusTimeSeries, Integer> {

  private static final long serialVersionUID = 1L;

  /** Creates the key selector. */
  public PrometheusTimeSeriesLabelsAndMetricNameKeySelector() {}

  /**
   * Returns the key of the record's series.
   *
   * @param timeSeries the record
   * @return a hash of the metric name ({@code null} counted as 0) and of every label name and
   *     value, in order
   */
  @Override
  public Integer getKey(PrometheusTimeSeries timeSeries) {
    // Known from the builder's strings, or computed once from the record's bytes (ASCII without
    // making strings): the same value either way.
    return timeSeries.key();
  }
}
