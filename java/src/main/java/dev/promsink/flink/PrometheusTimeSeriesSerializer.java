package dev.promsink.flink;

import dev.promsink.flink.PrometheusTimeSeries.Label;
import dev.promsink.flink.PrometheusTimeSeries.Sample;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * Compact binary serializer for {@link PrometheusTimeSeries}, used by Flink for network shuffles
 * and state instead of Kryo.
 *
 * <p>Format of one record:
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

  /** Bytes of one serialized sample: value bits and timestamp. */
  private static final int SAMPLE_BYTES = 16;

  /** Largest buffer allocated by {@link #copy(DataInputView, DataOutputView)}. */
  private static final int COPY_BUFFER_BYTES = 8192;

  private static final PrometheusTimeSeries EMPTY =
      PrometheusTimeSeries.ofTrusted(null, new Label[0], new Sample[0]);

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
    String metricName = record.getMetricName();
    if (metricName == null) {
      target.writeByte(0);
    } else {
      target.writeByte(FLAG_HAS_METRIC_NAME);
      writeString(metricName, target);
    }

    Label[] labels = record.labels();
    writeVarInt(labels.length, target);
    for (Label label : labels) {
      writeString(label.getName(), target);
      writeString(label.getValue(), target);
    }

    Sample[] samples = record.samples();
    writeVarInt(samples.length, target);
    for (Sample sample : samples) {
      target.writeLong(Double.doubleToRawLongBits(sample.getValue()));
      target.writeLong(sample.getTimestamp());
    }
  }

  @Override
  public PrometheusTimeSeries deserialize(DataInputView source) throws IOException {
    int flags = readFlags(source);
    String metricName = (flags & FLAG_HAS_METRIC_NAME) != 0 ? readString(source) : null;

    // Counts come from the input: arrays grow as entries are actually read, so a corrupt count
    // ends in an EOFException at the end of the input, never in a huge allocation.
    int labelCount = readVarInt(source);
    Label[] labels = new Label[Math.min(labelCount, INITIAL_CAPACITY)];
    for (int i = 0; i < labelCount; i++) {
      String name = readString(source);
      String value = readString(source);
      if (i == labels.length) {
        labels = Arrays.copyOf(labels, grown(labels.length, labelCount));
      }
      labels[i] = new Label(name, value);
    }

    int sampleCount = readVarInt(source);
    Sample[] samples = new Sample[Math.min(sampleCount, INITIAL_CAPACITY)];
    for (int i = 0; i < sampleCount; i++) {
      double value = Double.longBitsToDouble(source.readLong());
      long timestamp = source.readLong();
      if (i == samples.length) {
        samples = Arrays.copyOf(samples, grown(samples.length, sampleCount));
      }
      samples[i] = new Sample(value, timestamp);
    }
    return PrometheusTimeSeries.ofTrusted(metricName, labels, samples);
  }

  @Override
  public PrometheusTimeSeries deserialize(PrometheusTimeSeries reuse, DataInputView source)
      throws IOException {
    return deserialize(source);
  }

  @Override
  public void copy(DataInputView source, DataOutputView target) throws IOException {
    int flags = readFlags(source);
    target.writeByte(flags);
    if ((flags & FLAG_HAS_METRIC_NAME) != 0) {
      copyString(source, target);
    }

    int labelCount = readVarInt(source);
    writeVarInt(labelCount, target);
    for (int i = 0; i < labelCount; i++) {
      copyString(source, target);
      copyString(source, target);
    }

    int sampleCount = readVarInt(source);
    writeVarInt(sampleCount, target);
    if (sampleCount > Integer.MAX_VALUE / SAMPLE_BYTES) {
      throw new IOException("Corrupt PrometheusTimeSeries: sample count " + sampleCount);
    }
    copyBytes(source, target, sampleCount * SAMPLE_BYTES);
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
    if ((flags & ~FLAG_HAS_METRIC_NAME) != 0) {
      throw new IOException(
          "Corrupt PrometheusTimeSeries: unknown flags 0x" + Integer.toHexString(flags));
    }
    return flags;
  }

  /** Writes a non-negative int as an unsigned LEB128 varint (1 to 5 bytes). */
  static void writeVarInt(int value, DataOutput target) throws IOException {
    while ((value & ~0x7F) != 0) {
      target.writeByte((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    target.writeByte(value);
  }

  /** Reads a non-negative int written by {@link #writeVarInt}. */
  /** Entries allocated before any is read; arrays then double as entries arrive. */
  private static final int INITIAL_CAPACITY = 16;

  /**
   * The longest name or value read back (16 MiB): far above anything a receiver accepts, far below
   * what a corrupt length could make it allocate.
   */
  static final int MAX_STRING_BYTES = 16 << 20;

  private static int grown(int length, int count) {
    return (int) Math.min(count, Math.max(INITIAL_CAPACITY, 2L * length));
  }

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

  /** Writes the byte length as a varint, then the (generalized) UTF-8 bytes. */
  static void writeString(String s, DataOutput target) throws IOException {
    int length = s.length();
    long byteLength = 0;
    for (int i = 0; i < length; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        byteLength += 1;
      } else if (c < 0x800) {
        byteLength += 2;
      } else if (Character.isHighSurrogate(c)
          && i + 1 < length
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        byteLength += 4;
        i++;
      } else {
        byteLength += 3;
      }
    }
    if (byteLength > MAX_STRING_BYTES) {
      throw new IOException(
          "String too long to serialize: "
              + byteLength
              + " bytes (at most "
              + MAX_STRING_BYTES
              + ")");
    }
    writeVarInt((int) byteLength, target);

    if (byteLength == length) {
      // All ASCII: Latin-1 encoding is identical and takes the fast path of compact strings.
      target.write(s.getBytes(StandardCharsets.ISO_8859_1));
      return;
    }

    byte[] bytes = new byte[(int) byteLength];
    int pos = 0;
    for (int i = 0; i < length; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes[pos++] = (byte) c;
      } else if (c < 0x800) {
        bytes[pos++] = (byte) (0xC0 | (c >> 6));
        bytes[pos++] = (byte) (0x80 | (c & 0x3F));
      } else if (Character.isHighSurrogate(c)
          && i + 1 < length
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        int cp = Character.toCodePoint(c, s.charAt(++i));
        bytes[pos++] = (byte) (0xF0 | (cp >> 18));
        bytes[pos++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
        bytes[pos++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
        bytes[pos++] = (byte) (0x80 | (cp & 0x3F));
      } else {
        bytes[pos++] = (byte) (0xE0 | (c >> 12));
        bytes[pos++] = (byte) (0x80 | ((c >> 6) & 0x3F));
        bytes[pos++] = (byte) (0x80 | (c & 0x3F));
      }
    }
    target.write(bytes);
  }

  /** Reads a string written by {@link #writeString}. */
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

    int i = 0;
    while (i < byteLength && bytes[i] >= 0) {
      i++;
    }
    if (i == byteLength) {
      return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    char[] chars = new char[byteLength];
    int n = 0;
    for (int j = 0; j < i; j++) {
      chars[n++] = (char) bytes[j];
    }
    while (i < byteLength) {
      int b = bytes[i] & 0xFF;
      if (b < 0x80) {
        chars[n++] = (char) b;
        i += 1;
      } else if (b >= 0xC2 && b < 0xE0) {
        checkContinuation(bytes, i, 2);
        chars[n++] = (char) (((b & 0x1F) << 6) | (bytes[i + 1] & 0x3F));
        i += 2;
      } else if (b >= 0xE0 && b < 0xF0) {
        checkContinuation(bytes, i, 3);
        int c = ((b & 0x0F) << 12) | ((bytes[i + 1] & 0x3F) << 6) | (bytes[i + 2] & 0x3F);
        if (c < 0x800) {
          throw new IOException("Corrupt PrometheusTimeSeries string: overlong encoding");
        }
        chars[n++] = (char) c;
        i += 3;
      } else if (b >= 0xF0 && b < 0xF5) {
        checkContinuation(bytes, i, 4);
        int cp =
            ((b & 0x07) << 18)
                | ((bytes[i + 1] & 0x3F) << 12)
                | ((bytes[i + 2] & 0x3F) << 6)
                | (bytes[i + 3] & 0x3F);
        if (cp < Character.MIN_SUPPLEMENTARY_CODE_POINT || cp > Character.MAX_CODE_POINT) {
          throw new IOException("Corrupt PrometheusTimeSeries string: bad 4-byte sequence");
        }
        chars[n++] = Character.highSurrogate(cp);
        chars[n++] = Character.lowSurrogate(cp);
        i += 4;
      } else {
        throw new IOException("Corrupt PrometheusTimeSeries string: bad lead byte " + b);
      }
    }
    return new String(chars, 0, n);
  }

  private static void checkContinuation(byte[] bytes, int start, int sequenceLength)
      throws IOException {
    if (start + sequenceLength > bytes.length) {
      throw new IOException("Corrupt PrometheusTimeSeries string: truncated sequence");
    }
    for (int k = 1; k < sequenceLength; k++) {
      if ((bytes[start + k] & 0xC0) != 0x80) {
        throw new IOException("Corrupt PrometheusTimeSeries string: bad continuation byte");
      }
    }
  }

  private static void copyString(DataInputView source, DataOutputView target) throws IOException {
    int byteLength = readVarInt(source);
    writeVarInt(byteLength, target);
    copyBytes(source, target, byteLength);
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
