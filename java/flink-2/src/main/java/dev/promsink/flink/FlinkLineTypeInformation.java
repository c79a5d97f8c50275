package dev.promsink.flink;

import org.apache.flink.api.common.typeinfo.TypeInformation;

/**
 * The Flink 2 side of the per-line shim for type information: nothing to add. (The Flink 1.20 side
 * implements the deprecated {@code createSerializer(ExecutionConfig)} that Flink 1.20 still
 * declares abstract.)
 */
abstract class FlinkLineTypeInformation<T> extends TypeInformation<T> {
  private static final long serialVersionUID = 1L;
}
