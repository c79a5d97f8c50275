package dev.promsink.flink;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import org.apache.flink.connector.base.sink.writer.AsyncSinkWriterStateSerializer;

/**
 * Serializes the sink writer's buffered entries into checkpoints and savepoints.
 *
 * <p>Version 1: each entry is its byte length then the entry body of batch format version 1. A
 * change of the entry layout must bump {@link #getVersion()} and keep reading version 1.
 */
public final class EncodedSeriesStateSerializer
    extends AsyncSinkWriterStateSerializer<EncodedSeries> {
  /** The state format version written by this serializer. */
  public static final int VERSION = 1;

  /** Largest entry accepted when reading, to fail clearly on corrupt state. */
  private static final int MAX_ENTRY_BYTES = 1 << 30;

  @Override
  protected void serializeRequestToStream(EncodedSeries entry, DataOutputStream out)
      throws IOException {
    byte[] bytes = entry.bytes();
    out.writeInt(bytes.length);
    out.write(bytes);
  }

  @Override
  protected EncodedSeries deserializeRequestFromStream(long requestSize, DataInputStream in)
      throws IOException {
    int length = in.readInt();
    if (length < 8 || length > MAX_ENTRY_BYTES) {
      throw new IOException("corrupt promsink writer state: entry of " + length + " bytes");
    }
    byte[] bytes = new byte[length];
    in.readFully(bytes);
    return new EncodedSeries(bytes);
  }

  @Override
  public int getVersion() {
    return VERSION;
  }
}
