package dev.promsink.flink.table;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSink;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.ProviderContext;
import org.apache.flink.table.connector.sink.DataStreamSinkProvider;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.data.RowData;
import org.apache.flink.types.RowKind;

/**
 * The table sink: rows become series ({@link RowsToTimeSeries}), keyed by series so that each
 * series' samples keep their order at any parallelism, then written by a {@link PrometheusSink}.
 * Appends only.
 */
final class PrometheusDynamicTableSink implements DynamicTableSink {
  private final String table;
  private final PrometheusSink sink;
  private final RowMapping mapping;
  private final String metricGroupName;
  private final Integer parallelism;

  PrometheusDynamicTableSink(
      String table,
      PrometheusSink sink,
      RowMapping mapping,
      String metricGroupName,
      Integer parallelism) {
    this.table = table;
    this.sink = sink;
    this.mapping = mapping;
    this.metricGroupName = metricGroupName;
    this.parallelism = parallelism;
  }

  @Override
  public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
    for (RowKind kind : requestedMode.getContainedKinds()) {
      if (kind != RowKind.INSERT) {
        throw new ValidationException(
            "Table '"
                + table
                + "' ('connector' = '"
                + PrometheusDynamicTableSinkFactory.IDENTIFIER
                + "') accepts appends only (INSERT rows), but the query produces "
                + requestedMode.getContainedKinds()
                + ": samples cannot be updated or deleted in Prometheus. Write an append-only"
                + " query (for example a windowed aggregation instead of a running one).");
      }
    }
    return ChangelogMode.insertOnly();
  }

  @Override
  public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
    return new DataStreamSinkProvider() {
      @Override
      public DataStreamSink<?> consumeDataStream(
          ProviderContext provider, DataStream<RowData> rows) {
        SingleOutputStreamOperator<PrometheusTimeSeries> series =
            rows.flatMap(new RowsToTimeSeries(mapping, metricGroupName))
                .name("Rows to series: " + table);
        provider.generateUid("rows-to-series").ifPresent(series::uid);
        DataStreamSink<PrometheusTimeSeries> written =
            series
                .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
                .sinkTo(sink)
                .name("Prometheus: " + table);
        provider.generateUid("prometheus-sink").ifPresent(written::uid);
        if (parallelism != null) {
          written.setParallelism(parallelism);
        }
        return written;
      }
    };
  }

  @Override
  public DynamicTableSink copy() {
    return new PrometheusDynamicTableSink(table, sink, mapping, metricGroupName, parallelism);
  }

  @Override
  public String asSummaryString() {
    return PrometheusDynamicTableSinkFactory.IDENTIFIER;
  }
}
