package dev.promsink.flink.table;

import dev.promsink.flink.PrometheusTimeSeries;
import java.io.Serializable;
import java.math.BigDecimal;
import java.util.function.Consumer;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;

/**
 * How a row becomes series, resolved from the table's schema and options at planning time: one
 * series per value column, named by a constant or a name column (with the column's name as suffix
 * when there are several value columns), labelled by the label columns, stamped by the timestamp
 * column or the time the row arrives.
 */
final class RowMapping implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Where each sample's timestamp comes from. */
  enum TimestampKind {
    /** The time the row reaches the sink. */
    ARRIVAL,
    /** A TIMESTAMP or TIMESTAMP_LTZ column: its epoch milliseconds. */
    TIMESTAMP,
    /** A BIGINT column of epoch milliseconds. */
    EPOCH_MILLIS
  }

  private final RowData.FieldGetter[] values;

  /** With a constant name: the full metric name of each value column. */
  private final String[] constantNames;

  /** With a name column: the suffix of each value column's metric name ("" for none). */
  private final String[] nameSuffixes;

  private final RowData.FieldGetter nameColumn;
  private final String[] labelNames;
  private final RowData.FieldGetter[] labels;
  private final TimestampKind timestampKind;
  private final RowData.FieldGetter timestamp;

  RowMapping(
      RowData.FieldGetter[] values,
      String[] constantNames,
      RowData.FieldGetter nameColumn,
      String[] nameSuffixes,
      String[] labelNames,
      RowData.FieldGetter[] labels,
      TimestampKind timestampKind,
      RowData.FieldGetter timestamp) {
    this.values = values;
    this.constantNames = constantNames;
    this.nameColumn = nameColumn;
    this.nameSuffixes = nameSuffixes;
    this.labelNames = labelNames;
    this.labels = labels;
    this.timestampKind = timestampKind;
    this.timestamp = timestamp;
  }

  /**
   * Emits the series of {@code row} (one per value column that is not NULL) and returns the number
   * of samples dropped because a value, the timestamp or the metric name was NULL.
   */
  int map(RowData row, Consumer<PrometheusTimeSeries> out) {
    long ts;
    if (timestampKind == TimestampKind.ARRIVAL) {
      ts = System.currentTimeMillis();
    } else {
      Object t = timestamp.getFieldOrNull(row);
      if (t == null) {
        return values.length;
      }
      ts =
          timestampKind == TimestampKind.TIMESTAMP
              ? ((TimestampData) t).getMillisecond()
              : (Long) t;
    }
    String name = null;
    if (nameColumn != null) {
      Object n = nameColumn.getFieldOrNull(row);
      if (n == null) {
        return values.length;
      }
      name = n.toString();
    }
    int dropped = 0;
    for (int i = 0; i < values.length; i++) {
      Object v = values[i].getFieldOrNull(row);
      if (v == null) {
        dropped++;
        continue;
      }
      PrometheusTimeSeries.Builder series =
          PrometheusTimeSeries.builder()
              .withMetricName(name == null ? constantNames[i] : name + nameSuffixes[i]);
      for (int l = 0; l < labels.length; l++) {
        Object label = labels[l].getFieldOrNull(row);
        if (label != null) { // a NULL label value omits the label
          series.addLabel(labelNames[l], ((StringData) label).toString());
        }
      }
      out.accept(series.addSample(toDouble(v), ts).build());
    }
    return dropped;
  }

  /** A numeric column's value: TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE or DECIMAL. */
  private static double toDouble(Object v) {
    if (v instanceof DecimalData) {
      BigDecimal d = ((DecimalData) v).toBigDecimal();
      return d.doubleValue();
    }
    return ((Number) v).doubleValue();
  }
}
