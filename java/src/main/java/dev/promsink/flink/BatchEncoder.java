package dev.promsink.flink;

import dev.promsink.flink.jni.BatchFormat;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Writes a batch of {@link PrometheusTimeSeries} in the JNI batch format, version 1 ({@code
 * docs/batch-format.md}), into a direct buffer reused from batch to batch. Internal to the sink;
 * public for the bridge's tests.
 *
 * <p>One pass per batch and no allocation per record: names and values are written straight from
 * the strings (ASCII without a detour through {@code byte[]}), samples as raw IEEE-754 bits (NaN
 * payloads such as the stale marker are kept), into a reused heap array that is copied into the
 * direct buffer once.
 */
public final class BatchEncoder {
  private static final VarHandle INT =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle LONG =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle SHORT =
      MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

  private byte[] buf = new byte[64 * 1024];
  private int pos;
  private ByteBuffer direct;

  /**
   * Encodes {@code records} as one batch. Returns the direct buffer (owned by this encoder and
   * overwritten by the next call), positioned at 0 with its limit at the batch's end.
   */
  public ByteBuffer encode(List<PrometheusTimeSeries> records) {
    pos = 0;
    ensure(BatchFormat.HEADER_LENGTH);
    INT.set(buf, 0, BatchFormat.MAGIC);
    SHORT.set(buf, 4, BatchFormat.VERSION);
    SHORT.set(buf, 6, (short) 0);
    INT.set(buf, 8, records.size());
    pos = BatchFormat.HEADER_LENGTH;
    for (PrometheusTimeSeries r : records) {
      writeEntry(r);
    }
    if (direct == null || direct.capacity() < pos) {
      direct = ByteBuffer.allocateDirect(Math.max(pos, pos / 2 * 3));
    }
    direct.clear();
    direct.put(buf, 0, pos);
    direct.flip();
    return direct;
  }

  private void writeEntry(PrometheusTimeSeries r) {
    PrometheusTimeSeries.Label[] labels = r.labels();
    PrometheusTimeSeries.Sample[] samples = r.samples();
    ensure(12);
    int lengthAt = pos;
    INT.set(buf, pos + 4, samples.length);
    INT.set(buf, pos + 8, labels.length);
    pos += 12;
    putString(r.getMetricName());
    for (PrometheusTimeSeries.Label l : labels) {
      putString(l.getName());
      putString(l.getValue());
    }
    ensure(16L * samples.length);
    for (PrometheusTimeSeries.Sample s : samples) {
      LONG.set(buf, pos, Double.doubleToRawLongBits(s.getValue()));
      LONG.set(buf, pos + 8, s.getTimestamp());
      pos += 16;
    }
    INT.set(buf, lengthAt, pos - lengthAt - 4);
  }

  /** A u32 byte length then the UTF-8 bytes; null is the empty string. */
  private void putString(String s) {
    int n = s == null ? 0 : s.length();
    ensure(4L + n);
    int start = pos + 4;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) {
        putNonAscii(s);
        return;
      }
      buf[start + i] = (byte) c;
    }
    INT.set(buf, pos, n);
    pos = start + n;
  }

  /**
   * UTF-8 of {@code s}, written in place. An unpaired surrogate is written as its three-byte form
   * (0xED 0xA0..0xBF ..), which is not UTF-8: the native validation then drops that series, counts
   * it and says why ("name or value not UTF-8"), instead of storing a {@code ?} in its place.
   */
  private void putNonAscii(String s) {
    int n = s.length();
    ensure(4L + 3L * n);
    int at = pos + 4;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        buf[at++] = (byte) c;
      } else if (c < 0x800) {
        buf[at++] = (byte) (0xC0 | c >> 6);
        buf[at++] = (byte) (0x80 | c & 0x3F);
      } else if (Character.isHighSurrogate(c)
          && i + 1 < n
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        int cp = Character.toCodePoint(c, s.charAt(++i));
        buf[at++] = (byte) (0xF0 | cp >> 18);
        buf[at++] = (byte) (0x80 | cp >> 12 & 0x3F);
        buf[at++] = (byte) (0x80 | cp >> 6 & 0x3F);
        buf[at++] = (byte) (0x80 | cp & 0x3F);
      } else {
        // Three bytes also for an unpaired surrogate: not UTF-8, on purpose (see above).
        buf[at++] = (byte) (0xE0 | c >> 12);
        buf[at++] = (byte) (0x80 | c >> 6 & 0x3F);
        buf[at++] = (byte) (0x80 | c & 0x3F);
      }
    }
    INT.set(buf, pos, at - pos - 4);
    pos = at;
  }

  private void ensure(long more) {
    long needed = pos + more;
    if (needed > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("a batch larger than 2 GiB cannot be encoded");
    }
    if (needed > buf.length) {
      byte[] grown =
          new byte[(int) Math.min(Integer.MAX_VALUE - 16, Math.max(needed, 2L * buf.length))];
      System.arraycopy(buf, 0, grown, 0, pos);
      buf = grown;
    }
  }
}
