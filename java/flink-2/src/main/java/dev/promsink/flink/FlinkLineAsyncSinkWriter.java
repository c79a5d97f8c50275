package dev.promsink.flink;

import java.io.Serializable;
import java.util.Collection;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.writer.AsyncSinkWriter;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.DequeRequestBuffer;
import org.apache.flink.connector.base.sink.writer.ElementConverter;
import org.apache.flink.connector.base.sink.writer.SimpleBatchCreator;
import org.apache.flink.connector.base.sink.writer.config.AsyncSinkWriterConfiguration;

/**
 * The Flink 2 side of the per-line shim for the writer: Flink 2.1 deprecated the constructor
 * without batch creator and request buffer (and Flink 2.0 lacks the one with them, which is why
 * this line's artifact needs Flink 2.1 or later). Batches are made as in Flink 1.20: entries in
 * order, up to the batch size and the byte budget (here: samples).
 */
abstract class FlinkLineAsyncSinkWriter<InputT, RequestEntryT extends Serializable>
    extends AsyncSinkWriter<InputT, RequestEntryT> {

  FlinkLineAsyncSinkWriter(
      ElementConverter<InputT, RequestEntryT> elementConverter,
      WriterInitContext context,
      AsyncSinkWriterConfiguration configuration,
      Collection<BufferedRequestState<RequestEntryT>> states) {
    super(
        elementConverter,
        context,
        configuration,
        states,
        new SimpleBatchCreator<>(configuration.getMaxBatchSizeInBytes()),
        new DequeRequestBuffer<>());
  }
}
