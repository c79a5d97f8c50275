package dev.promsink.flink;

import java.lang.reflect.Type;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;

/**
 * Tells Flink's type extraction to describe {@link PrometheusTimeSeries} with {@link
 * PrometheusTimeSeriesTypeInfo}, so records are serialized with {@link
 * PrometheusTimeSeriesSerializer} instead of Kryo. Registered through the {@code @TypeInfo}
 * annotation on {@link PrometheusTimeSeries}.
 */
public class PrometheusTimeSeriesTypeInfoFactory extends TypeInfoFactory<PrometheusTimeSeries> {

  /** Creates the factory; called reflectively by Flink. */
  public PrometheusTimeSeriesTypeInfoFactory() {}

  @Override
  public TypeInformation<PrometheusTimeSeries> createTypeInfo(
      Type t, Map<String, TypeInformation<?>> genericParameters) {
    return new PrometheusTimeSeriesTypeInfo();
  }
}
