package dev.promsink.flink;

import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeutils.TypeSerializer;

/**
 * Flink type information for {@link PrometheusTimeSeries}: an atomic, non-key type serialized by
 * {@link PrometheusTimeSeriesSerializer}.
 *
 * <p>To partition records by series, use {@link PrometheusTimeSeriesLabelsAndMetricNameKeySelector}
 * rather than the record itself as the key.
 */
public class PrometheusTimeSeriesTypeInfo extends FlinkLineTypeInformation<PrometheusTimeSeries> {

  private static final long serialVersionUID = 1L;

  /** Creates the type information. */
  public PrometheusTimeSeriesTypeInfo() {}

  @Override
  public boolean isBasicType() {
    return false;
  }

  @Override
  public boolean isTupleType() {
    return false;
  }

  @Override
  public int getArity() {
    return 1;
  }

  @Override
  public int getTotalFields() {
    return 1;
  }

  @Override
  public Class<PrometheusTimeSeries> getTypeClass() {
    return PrometheusTimeSeries.class;
  }

  @Override
  public boolean isKeyType() {
    return false;
  }

  @Override
  public TypeSerializer<PrometheusTimeSeries> createSerializer(SerializerConfig config) {
    return PrometheusTimeSeriesSerializer.INSTANCE;
  }

  @Override
  public String toString() {
    return "PrometheusTimeSeriesTypeInfo";
  }

  @Override
  public boolean equals(Object obj) {
    return obj instanceof PrometheusTimeSeriesTypeInfo
        && ((PrometheusTimeSeriesTypeInfo) obj).canEqual(this);
  }

  @Override
  public int hashCode() {
    return PrometheusTimeSeriesTypeInfo.class.getName().hashCode();
  }

  @Override
  public boolean canEqual(Object obj) {
    return obj instanceof PrometheusTimeSeriesTypeInfo;
  }
}
