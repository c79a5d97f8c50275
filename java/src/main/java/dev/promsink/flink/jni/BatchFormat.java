package dev.promsink.flink.jni;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Function;

/**
 * Writer of the JNI batch format, version 1 ({@code docs/batch-format.md}): little-endian, a
 * 12-byte header then length-prefixed entries. An entry body holds one series: sample count, label
 * count, metric name, labels, samples.
 */
public final class BatchFormat {
  /** "PMSK" as a little-endian int. */
  public static final int MAGIC = 0x4B534D50;

  /** The format version written here. */
  public static final short VERSION = 1;

  /** Bytes of the batch header. */
  public static final int HEADER_LENGTH = 12;

  private static final VarHandle INT =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle LONG =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private BatchFormat() {}

  /**
   * Encodes one series as an entry body. {@code metricName} may be null (sent as empty, which the
   * native side rejects as a missing metric name). Labels are name, value pairs.
   */
  public static byte[] encodeEntry(
      String metricName, String[] labelNamesAndValues, double[] values, long[] timestamps) {
    byte[][] strings = new byte[labelNamesAndValues.length + 1][];
    int size = 8 + 4 * strings.length + 16 * values.length;
    strings[0] = utf8(metricName);
    size += strings[0].length;
    for (int i = 0; i < labelNamesAndValues.length; i++) {
      strings[i + 1] = utf8(labelNamesAndValues[i]);
      size += strings[i + 1].length;
    }
    byte[] out = new byte[size];
    INT.set(out, 0, values.length);
    INT.set(out, 4, labelNamesAndValues.length / 2);
    int pos = 8;
    for (byte[] s : strings) {
      INT.set(out, pos, s.length);
      System.arraycopy(s, 0, out, pos + 4, s.length);
      pos += 4 + s.length;
    }
    for (int i = 0; i < values.length; i++) {
      LONG.set(out, pos, Double.doubleToRawLongBits(values[i]));
      LONG.set(out, pos + 8, timestamps[i]);
      pos += 16;
    }
    return out;
  }

  /** The sample count of an entry body, its first field. */
  public static int sampleCount(byte[] entry) {
    return (int) INT.get(entry, 0);
  }

  /**
   * Writes a batch of entry bodies into {@code reuse} when it is large enough, else into a new
   * direct buffer; returns the buffer, positioned at 0 with its limit at the batch's end.
   */
  public static <T> ByteBuffer writeBatch(
      List<T> entries, Function<T, byte[]> body, ByteBuffer reuse) {
    long size = HEADER_LENGTH;
    for (T e : entries) {
      size += 4 + body.apply(e).length;
    }
    if (size > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("batch of " + size + " bytes is larger than 2 GiB");
    }
    ByteBuffer buf = reuse;
    if (buf == null || buf.capacity() < size) {
      int capacity = (int) Math.min(Integer.MAX_VALUE, Math.max(size, size * 3 / 2));
      buf = ByteBuffer.allocateDirect(capacity);
    }
    buf.clear().order(ByteOrder.LITTLE_ENDIAN);
    buf.putInt(MAGIC).putShort(VERSION).putShort((short) 0).putInt(entries.size());
    for (T e : entries) {
      byte[] b = body.apply(e);
      buf.putInt(b.length).put(b);
    }
    buf.flip();
    return buf;
  }

  private static byte[] utf8(String s) {
    return s == null ? new byte[0] : s.getBytes(StandardCharsets.UTF_8);
  }
}
