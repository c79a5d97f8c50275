package dev.promsink.flink.table;

import dev.promsink.flink.PrometheusTimeSeries;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.metrics.Counter;
import org.apache.flink.table.data.RowData;
import org.apache.flink.util.Collector;

/**
 * Turns rows into series ({@link RowMapping}) before the sink keys them by series. Samples whose
 * value, timestamp or metric name is NULL are dropped and counted in {@value #NULL_DROPPED} of the
 * sink's metric group.
 */
final class RowsToTimeSeries extends RichFlatMapFunction<RowData, PrometheusTimeSeries> {
  private static final long serialVersionUID = 1L;

  /** Samples dropped because a value, the timestamp or the metric name was NULL. */
  static final String NULL_DROPPED = "numSamplesNullDropped";

  private final RowMapping mapping;
  private final String metricGroupName;
  private transient Counter nullDropped;

  RowsToTimeSeries(RowMapping mapping, String metricGroupName) {
    this.mapping = mapping;
    this.metricGroupName = metricGroupName;
  }

  @Override
  public void open(OpenContext openContext) {
    nullDropped =
        getRuntimeContext().getMetricGroup().addGroup(metricGroupName).counter(NULL_DROPPED);
  }

  @Override
  public void flatMap(RowData row, Collector<PrometheusTimeSeries> out) {
    int dropped = mapping.map(row, out::collect);
    if (dropped > 0) {
      nullDropped.inc(dropped);
    }
  }
}
