package dev.promsink.flink;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import org.apache.flink.connector.base.sink.writer.AsyncSinkWriterStateSerializer;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.core.memory.DataOutputViewStreamWrapper;

/**
 * Serializes the sink writer's buffered records into checkpoints and savepoints.
 *
 * <p>Version 2: each record in the format of {@link PrometheusTimeSeriesSerializer}. (Version 1,
 * the batch-format entry bytes, was written only by pre-release builds and is refused with a clear
 * error.) A change of the record format must bump the version and keep reading this one.
 */
public final class PrometheusTimeSeriesStateSerializer
    extends AsyncSinkWriterStateSerializer<PrometheusTimeSeries> {
  /** The state format version written by this serializer. */
  public static final int VERSION = 2;

  @Override
  protected void serializeRequestToStream(PrometheusTimeSeries entry, DataOutputStream out)
      throws IOException {
    PrometheusTimeSeriesSerializer.INSTANCE.serialize(entry, new DataOutputViewStreamWrapper(out));
  }

  @Override
  protected PrometheusTimeSeries deserializeRequestFromStream(long requestSize, DataInputStream in)
      throws IOException {
    return PrometheusTimeSeriesSerializer.INSTANCE.deserialize(new DataInputViewStreamWrapper(in));
  }

  @Override
  public BufferedRequestState<PrometheusTimeSeries> deserialize(int version, byte[] serialized)
      throws IOException {
    if (version != VERSION) {
      throw new IOException(
          "promsink writer state version "
              + version
              + " cannot be read by this version (it reads "
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
