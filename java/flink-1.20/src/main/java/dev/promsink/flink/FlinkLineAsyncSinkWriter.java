package dev.promsink.flink;

import java.io.Serializable;
import java.util.Collection;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.writer.AsyncSinkWriter;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.ElementConverter;
import org.apache.flink.connector.base.sink.writer.config.AsyncSinkWriterConfiguration;

/**
 * The Flink 1.20 side of the per-line shim for the writer: Flink 1.20's {@link AsyncSinkWriter} has
 * one constructor (Flink 2.1 adds pluggable batch creation and buffering).
 */
abstract class FlinkLineAsyncSinkWriter<InputT, RequestEntryT extends Serializable>
    extends AsyncSinkWriter<InputT, RequestEntryT> {

  FlinkLineAsyncSinkWriter(
      ElementConverter<InputT, RequestEntryT> elementConverter,
      WriterInitContext context,
      AsyncSinkWriterConfiguration configuration,
      Collection<BufferedRequestState<RequestEntryT>> states) {
    super(elementConverter, context, configuration, states);
  }
}
