package dev.promsink.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.RequestEntryWrapper;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * Wraps a {@link PrometheusSink} and records, per writer, how many buffered entries (and samples)
 * Flink restored into it from a checkpoint or savepoint. Everything else is the wrapped sink's:
 * writers, state serializer ({@code PrometheusTimeSeriesStateSerializer}), behaviour.
 */
public final class RestoreRecordingSink
    implements FlinkLineSink<PrometheusTimeSeries>,
        SupportsWriterState<PrometheusTimeSeries, BufferedRequestState<PrometheusTimeSeries>> {
  private static final long serialVersionUID = 1L;
  private static final Map<String, List<Writer>> WRITERS = new ConcurrentHashMap<>();

  /** One writer created by the sink. */
  public static final class Writer {
    public final int attempt;
    public final int subtask;
    public final boolean restored;
    public final int entries;
    public final long samples;

    Writer(int attempt, int subtask, boolean restored, int entries, long samples) {
      this.attempt = attempt;
      this.subtask = subtask;
      this.restored = restored;
      this.entries = entries;
      this.samples = samples;
    }

    @Override
    public String toString() {
      return "Writer{attempt="
          + attempt
          + ", subtask="
          + subtask
          + ", restored="
          + restored
          + ", entries="
          + entries
          + ", samples="
          + samples
          + "}";
    }
  }

  private final String name;
  private final PrometheusSink delegate;

  public RestoreRecordingSink(String name, PrometheusSink delegate) {
    this.name = name;
    this.delegate = delegate;
    WRITERS.putIfAbsent(name, Collections.synchronizedList(new ArrayList<>()));
  }

  /** The writers created so far by the sinks named {@code name} (of every job), in order. */
  public static List<Writer> writers(String name) {
    List<Writer> list = WRITERS.getOrDefault(name, Collections.emptyList());
    synchronized (list) {
      return new ArrayList<>(list);
    }
  }

  @Override
  public StatefulSinkWriter<PrometheusTimeSeries, BufferedRequestState<PrometheusTimeSeries>>
      createWriter(WriterInitContext context) throws IOException {
    record(context, Collections.emptyList(), false);
    return delegate.createWriter(context);
  }

  @Override
  public StatefulSinkWriter<PrometheusTimeSeries, BufferedRequestState<PrometheusTimeSeries>>
      restoreWriter(
          WriterInitContext context, Collection<BufferedRequestState<PrometheusTimeSeries>> states)
          throws IOException {
    record(context, states, true);
    return delegate.restoreWriter(context, states);
  }

  @Override
  public SimpleVersionedSerializer<BufferedRequestState<PrometheusTimeSeries>>
      getWriterStateSerializer() {
    return delegate.getWriterStateSerializer();
  }

  private void record(
      WriterInitContext context,
      Collection<BufferedRequestState<PrometheusTimeSeries>> states,
      boolean restored) {
    int entries = 0;
    long samples = 0;
    for (BufferedRequestState<PrometheusTimeSeries> state : states) {
      for (RequestEntryWrapper<PrometheusTimeSeries> entry : state.getBufferedRequestEntries()) {
        entries++;
        samples += entry.getSize();
      }
    }
    WRITERS
        .computeIfAbsent(name, n -> Collections.synchronizedList(new ArrayList<>()))
        .add(
            new Writer(
                context.getTaskInfo().getAttemptNumber(),
                context.getTaskInfo().getIndexOfThisSubtask(),
                restored,
                entries,
                samples));
  }
}
