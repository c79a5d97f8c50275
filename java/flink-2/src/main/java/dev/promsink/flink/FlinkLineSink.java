package dev.promsink.flink;

import org.apache.flink.api.connector.sink2.Sink;

/**
 * The Flink 2 side of the per-line shim for sinks: nothing to add, Flink 2's {@link Sink} has only
 * {@code createWriter(WriterInitContext)}. (The Flink 1.20 side implements the deprecated {@code
 * createWriter(Sink.InitContext)} that Flink 1.20 still declares abstract.)
 */
interface FlinkLineSink<T> extends Sink<T> {}
