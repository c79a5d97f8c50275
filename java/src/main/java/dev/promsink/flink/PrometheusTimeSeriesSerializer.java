package dev.promsink.flink;

import java.io.DataInput;
import java.io.IOException;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * Compact binary serializer for {@link PrometheusTimeSeries}, used by Flink for network shuffles
 * and state instead of Kryo.
 *
 * <p>Format of one record: one flag byte, {@code 0x80} set, bit 0 set if a metric name was set and
 * bit 1 set if the series key follows; then the key, if present ({@link
 * PrometheusTimeSeriesLabelsAndMetricNameKeySelector}'s value, 4 bytes big-endian); then the
 * record's batch-format entry as it is ({@link SeriesEntry}: its u32 little-endian length first).
 * The key is written when the writing side already computed it (a {@code keyBy} did, to choose the
 * channel), so the keyed task that reads the record does not hash the series again; it is never
 * computed only to be written. Reading checks the entry's structure, so a corrupt input is an
 * {@link IOException} here.
 *
 * <p>Records written by earlier builds (flag {@code 0x80} clear) are still read, in this format:
 *
 * <ol>
 *   <li>one flag byte: bit 0 set if a metric name follows, the other bits zero;
 *   <li>the metric name, if present, as a string;
 *   <li>the number of labels as an unsigned varint, then for each label its name and its value as
 *       strings;
 *   <li>the number of samples as an unsigned varint, then for each sample the raw IEEE 754 bits of
 *       the value (8 bytes, so NaN payloads such as the Prometheus staleness marker are preserved)
 *       and the timestamp in milliseconds (8 bytes), both big-endian.
 * </ol>
 *
 * <p>A string is written as its length in bytes (unsigned varint) followed by its UTF-8 bytes, so
 * there is no 64 KiB limit. Unpaired surrogates, which UTF-8 cannot represent, are written in their
 * 3-byte generalized UTF-8 form (as in WTF-8), so that every Java string round-trips unchanged.
 *
 * <p>The serializer is stateless and thread-safe; use {@link #INSTANCE}.
 */
public final class PrometheusTimeSeriesSerializer
    extends TypeSerializerSingleton<PrometheusTimeSeries> {

  private static final long serialVersionUID = 1L;

  /** The shared instance. */
  public static final PrometheusTimeSeriesSerializer INSTANCE =
      new PrometheusTimeSeriesSerializer();

  private static final int FLAG_HAS_METRIC_NAME = 0x01;

  /** Set when the series key (4 bytes) follows the flags; only with {@link #FLAG_ENTRY}. */
  private static final int FLAG_KEY = 0x02;

  /** Set on records written as a batch-format entry (this build); clear in earlier builds'. */
  private static final int FLAG_ENTRY = 0x80;

  /** Largest buffer allocated by {@link #copy(DataInputView, DataOutputView)}. */
  private static final int COPY_BUFFER_BYTES = 8192;

  private static final PrometheusTimeSeries EMPTY = PrometheusTimeSeries.builder().build();

  /** Use {@link #INSTANCE}; public so that Flink can instantiate it reflectively if needed. */
  public PrometheusTimeSeriesSerializer() {}

  @Override
  public boolean isImmutableType() {
    return true;
  }

  @Override
  public PrometheusTimeSeries createInstance() {
    return EMPTY;
  }

  @Override
  public PrometheusTimeSeries copy(PrometheusTimeSeries from) {
    return from;
  }

  @Override
  public PrometheusTimeSeries copy(PrometheusTimeSeries from, PrometheusTimeSeries reuse) {
    return from;
  }

  @Override
  public int getLength() {
    return -1;
  }

  @Override
  public void serialize(PrometheusTimeSeries record, DataOutputView target) throws IOException {
    write(record, target, record.keyKnown());
  }

  /**
   * Writes {@code record} without its key, the form of earlier builds of this format: for state
   * that an earlier build may have to read back (the sink's own writer state).
   */
  void serializeWithoutKey(PrometheusTimeSeries record, DataOutputView target) throws IOException {
    write(record, target, false);
  }

  private static void write(PrometheusTimeSeries record, DataOutputView target, boolean withKey)
      throws IOException {
    int flags = FLAG_ENTRY | (record.hasMetricName() ? FLAG_HAS_METRIC_NAME : 0);
    if (withKey) {
      target.writeByte(flags | FLAG_KEY);
      target.writeInt(record.key());
    } else {
      target.writeByte(flags);
    }
    target.write(record.entry());
  }

  @Override
  public PrometheusTimeSeries deserialize(DataInputView source) throws IOException {
    int flags = readFlags(source);
    if ((flags & FLAG_ENTRY) == 0) {
      return deserializeFields(flags, source);
    }
    boolean hasKey = (flags & FLAG_KEY) != 0;
    int key = hasKey ? source.readInt() : 0;
    int length = readEntryLength(source);
    byte[] entry = new byte[length + 4];
    putLength(entry, length);
    source.readFully(entry, 4, length);
    SeriesEntry.check(entry);
    boolean hasMetricName = (flags & FLAG_HAS_METRIC_NAME) != 0;
    return hasKey
        ? PrometheusTimeSeries.ofEntry(entry, hasMetricName, key)
        : PrometheusTimeSeries.ofEntry(entry, hasMetricName);
  }

  /** A record in the format of earlier builds: fields one by one. */
  private static PrometheusTimeSeries deserializeFields(int flags, DataInputView source)
      throws IOException {
    PrometheusTimeSeries.Builder record = PrometheusTimeSeries.builder();
    record.withMetricName((flags & FLAG_HAS_METRIC_NAME) != 0 ? readString(source) : null);
    // Counts come from the input: nothing is allocated for them up front, so a corrupt count
    // ends in an EOFException at the end of the input, never in a huge allocation.
    int labelCount = readVarInt(source);
    for (int i = 0; i < labelCount; i++) {
      String name = readString(source);
      record.addLabel(name, readString(source));
    }
    int sampleCount = readVarInt(source);
    for (int i = 0; i < sampleCount; i++) {
      double value = Double.longBitsToDouble(source.readLong());
      record.addSample(value, source.readLong());
    }
    return record.build();
  }

  @Override
  public PrometheusTimeSeries deserialize(PrometheusTimeSeries reuse, DataInputView source)
      throws IOException {
    return deserialize(source);
  }

  @Override
  public void copy(DataInputView source, DataOutputView target) throws IOException {
    int flags = readFlags(source);
    if ((flags & FLAG_ENTRY) == 0) {
      serialize(deserializeFields(flags, source), target);
      return;
    }
    target.writeByte(flags);
    if ((flags & FLAG_KEY) != 0) {
      target.writeInt(source.readInt());
    }
    int length = readEntryLength(source);
    byte[] prefix = new byte[4];
    putLength(prefix, length);
    target.write(prefix);
    copyBytes(source, target, length);
  }

  /** The entry's u32 little-endian length (of the rest), bounded. */
  private static int readEntryLength(DataInputView source) throws IOException {
    int length = Integer.reverseBytes(source.readInt());
    if (length < SeriesEntry.HEADER || length > SeriesEntry.MAX_BYTES - 4) {
      throw new IOException(
          "Corrupt PrometheusTimeSeries: an entry of "
              + Integer.toUnsignedString(length)
              + " bytes");
    }
    return length;
  }

  private static void putLength(byte[] to, int length) {
    to[0] = (byte) length;
    to[1] = (byte) (length >>> 8);
    to[2] = (byte) (length >>> 16);
    to[3] = (byte) (length >>> 24);
  }

  @Override
  public TypeSerializerSnapshot<PrometheusTimeSeries> snapshotConfiguration() {
    return new PrometheusTimeSeriesSerializerSnapshot();
  }

  /** Keeps the singleton when the serializer is deserialized with Java serialization. */
  private Object readResolve() {
    return INSTANCE;
  }

  // ---------------------------------------------------------------------------------------------
  // Encoding helpers
  // ---------------------------------------------------------------------------------------------

  private static int readFlags(DataInput source) throws IOException {
    int flags = source.readUnsignedByte();
    if ((flags & ~(FLAG_HAS_METRIC_NAME | FLAG_KEY | FLAG_ENTRY)) != 0
        || (flags & (FLAG_KEY | FLAG_ENTRY)) == FLAG_KEY) {
      throw new IOException(
          "Corrupt PrometheusTimeSeries: unknown flags 0x" + Integer.toHexString(flags));
    }
    return flags;
  }

  /**
   * The longest name or value read back from an earlier build's record (16 MiB): far above anything
   * a receiver accepts, far below what a corrupt length could make it allocate.
   */
  static final int MAX_STRING_BYTES = 16 << 20;

  /** A non-negative int as an unsigned LEB128 varint (1 to 5 bytes): earlier builds' counts. */
  static int readVarInt(DataInput source) throws IOException {
    int result = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      int b = source.readUnsignedByte();
      result |= (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        if (result < 0 || (shift == 28 && b > 0x07)) {
          throw new IOException("Corrupt PrometheusTimeSeries: varint out of range");
        }
        return result;
      }
    }
    throw new IOException("Corrupt PrometheusTimeSeries: varint longer than 5 bytes");
  }

  /** A string of an earlier build's record: varint byte length, then (generalized) UTF-8. */
  static String readString(DataInput source) throws IOException {
    int byteLength = readVarInt(source);
    if (byteLength > MAX_STRING_BYTES) {
      throw new IOException(
          "Corrupt PrometheusTimeSeries: a string of "
              + byteLength
              + " bytes (at most "
              + MAX_STRING_BYTES
              + ")");
    }
    byte[] bytes = new byte[byteLength];
    source.readFully(bytes);
    String decoded = SeriesEntry.decode(bytes, 0, byteLength, true);
    if (decoded == null) {
      throw new IOException("Corrupt PrometheusTimeSeries string: not UTF-8");
    }
    return decoded;
  }

  /**
   * Copies {@code count} bytes through a bounded buffer. {@link DataOutputView#write(DataInputView,
   * int)} is not used because some implementations (such as {@code DataOutputSerializer}) do not
   * grow their buffer for it.
   */
  private static void copyBytes(DataInputView source, DataOutputView target, int count)
      throws IOException {
    if (count == 0) {
      return;
    }
    byte[] buffer = new byte[Math.min(count, COPY_BUFFER_BYTES)];
    int remaining = count;
    while (remaining > 0) {
      int chunk = Math.min(remaining, buffer.length);
      source.readFully(buffer, 0, chunk);
      target.write(buffer, 0, chunk);
      remaining -= chunk;
    }
  }
}
