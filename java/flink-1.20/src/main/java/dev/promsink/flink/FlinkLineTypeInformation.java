package dev.promsink.flink;

import org.apache.flink.api.common.ExecutionConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;

/**
 * The Flink 1.20 side of the per-line shim for type information: Flink 1.20 still declares {@code
 * createSerializer(ExecutionConfig)} abstract (Flink 2 removed it); it answers with the serializer
 * of {@code createSerializer(SerializerConfig)}, the one both lines call.
 */
abstract class FlinkLineTypeInformation<T> extends TypeInformation<T> {
  private static final long serialVersionUID = 1L;

  @Override
  @Deprecated
  public TypeSerializer<T> createSerializer(ExecutionConfig config) {
    return createSerializer(config.getSerializerConfig());
  }
}
