package dev.promsink.flink;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import org.apache.flink.connector.base.sink.writer.AsyncSinkWriterStateSerializer;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.core.memory.DataOutputViewStreamWrapper;

/**
 * Serializes the sink writer's buffered records into checkpoints and savepoints. Internal: the sink
 * returns it from {@link PrometheusSink#getWriterStateSerializer()}.
 *
 * <p>Version 2: each record in the format of {@link PrometheusTimeSeriesSerializer}. Version 1 is
 * the state of Apache's Prometheus connector ({@link ApacheWriterState}), read so that a savepoint
 * of a job using Apache's sink restores into this one. (Pre-release builds of this sink also wrote
 * a version 1, of batch-format entries: it is refused with a clear error.) A change of the record
 * format must bump the version and keep reading this one.
 */
final class PrometheusTimeSeriesStateSerializer
    extends AsyncSinkWriterStateSerializer<PrometheusTimeSeries> {
  /** The state format version written by this serializer. */
  static final int VERSION = 2;

  @Override
  protected void serializeRequestToStream(PrometheusTimeSeries entry, DataOutputStream out)
      throws IOException {
    // Without the series key: the state of version 2 as every build of it wrote it.
    PrometheusTimeSeriesSerializer.INSTANCE.serializeWithoutKey(
        entry, new DataOutputViewStreamWrapper(out));
  }

  @Override
  protected PrometheusTimeSeries deserializeRequestFromStream(long requestSize, DataInputStream in)
      throws IOException {
    return PrometheusTimeSeriesSerializer.INSTANCE.deserialize(new DataInputViewStreamWrapper(in));
  }

  @Override
  public BufferedRequestState<PrometheusTimeSeries> deserialize(int version, byte[] serialized)
      throws IOException {
    if (version == ApacheWriterState.VERSION) {
      try {
        return ApacheWriterState.read(serialized);
      } catch (IOException | RuntimeException e) {
        throw new IOException(
            "writer state version 1 is neither the state of Apache's Prometheus connector 1.0.0"
                + " ("
                + e.getMessage()
                + ") nor readable by this version (a pre-release promsink state); restore"
                + " without the sink's state (a new sink uid)",
            e);
      }
    }
    if (version != VERSION) {
      throw new IOException(
          "promsink writer state version "
              + version
              + " cannot be read by this version (it reads "
              + ApacheWriterState.VERSION
              + ", Apache's connector's, and "
              + VERSION
              + "); restore without the sink's state (a new sink uid)");
    }
    return super.deserialize(version, serialized);
  }

  @Override
  public int getVersion() {
    return VERSION;
  }
}
