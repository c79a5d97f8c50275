package dev.promsink.flink;

import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;

/**
 * The Flink 1.20 side of the per-line shim for sinks: Flink 1.20 still declares {@code
 * createWriter(Sink.InitContext)} abstract (Flink 2 removed it) but calls only {@code
 * createWriter(WriterInitContext)}, which the sink implements.
 */
interface FlinkLineSink<T> extends Sink<T> {

  /** Never called by Flink 1.20; present only because Flink 1.20 declares it abstract. */
  @Override
  @Deprecated
  default SinkWriter<T> createWriter(Sink.InitContext context) {
    throw new UnsupportedOperationException(
        "promsink is created by Flink 1.20 through createWriter(WriterInitContext)");
  }
}
