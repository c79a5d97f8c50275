package dev.promsink.flink;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * One series as an entry of the JNI batch format ({@code docs/batch-format.md}): the wire form a
 * {@link PrometheusTimeSeries} holds from its builder on, so that Flink's serializer, the key
 * selector and the batch encoder copy or read bytes instead of walking objects.
 *
 * <pre>
 * u32 length of the rest | u32 samples | u32 labels | string metric name
 * | labels x (string name, string value) | samples x (f64 value bits, i64 timestamp ms)
 * string = u32 byte length + UTF-8 bytes; all little-endian
 * </pre>
 *
 * <p>Strings are UTF-8, except that an unpaired UTF-16 surrogate is written in its three-byte form
 * (not UTF-8): the native validation drops that series and says why, and a getter gives the Java
 * string back unchanged.
 */
final class SeriesEntry {
  private static final VarHandle INT =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle LONG =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /** Bytes before the metric name: length, sample count, label count. */
  static final int HEADER = 12;

  /** Bytes of one sample. */
  static final int SAMPLE = 16;

  /** The largest entry read back (1 GiB): far above a sane record, below a corrupt length. */
  static final int MAX_BYTES = 1 << 30;

  private SeriesEntry() {}

  /** The entry of a series; a null metric name is written as the empty string. */
  static byte[] encode(
      String metricName,
      String[] labelNames,
      String[] labelValues,
      int labels,
      double[] values,
      long[] timestamps,
      int samples) {
    byte[] ascii =
        encodeAscii(metricName, labelNames, labelValues, labels, values, timestamps, samples);
    return ascii != null
        ? ascii
        : encodeUtf8(metricName, labelNames, labelValues, labels, values, timestamps, samples);
  }

  /**
   * The entry in one pass over the characters when every string is ASCII (one byte per char, as
   * metric and label names must be and values nearly always are), else null.
   */
  private static byte[] encodeAscii(
      String metricName,
      String[] labelNames,
      String[] labelValues,
      int labels,
      double[] values,
      long[] timestamps,
      int samples) {
    long size = HEADER + 4L + length(metricName) + (long) SAMPLE * samples;
    for (int i = 0; i < labels; i++) {
      size += 8L + length(labelNames[i]) + length(labelValues[i]);
    }
    if (size > MAX_BYTES) {
      return null;
    }
    byte[] entry = new byte[(int) size];
    int pos = writeAscii(metricName, entry, HEADER);
    for (int i = 0; i < labels && pos >= 0; i++) {
      pos = writeAscii(labelNames[i], entry, pos);
      pos = pos < 0 ? pos : writeAscii(labelValues[i], entry, pos);
    }
    if (pos < 0) {
      return null;
    }
    writeCounts(entry, labels, samples);
    writeSamples(entry, pos, values, timestamps, samples);
    return entry;
  }

  private static byte[] encodeUtf8(
      String metricName,
      String[] labelNames,
      String[] labelValues,
      int labels,
      double[] values,
      long[] timestamps,
      int samples) {
    long size = HEADER + 4L + utf8Length(metricName) + (long) SAMPLE * samples;
    for (int i = 0; i < labels; i++) {
      size += 8L + utf8Length(labelNames[i]) + utf8Length(labelValues[i]);
    }
    if (size > MAX_BYTES) {
      throw new IllegalArgumentException(
          "a time series of " + size + " bytes is larger than " + MAX_BYTES);
    }
    byte[] entry = new byte[(int) size];
    writeCounts(entry, labels, samples);
    int pos = writeString(metricName, entry, HEADER);
    for (int i = 0; i < labels; i++) {
      pos = writeString(labelNames[i], entry, pos);
      pos = writeString(labelValues[i], entry, pos);
    }
    writeSamples(entry, pos, values, timestamps, samples);
    return entry;
  }

  private static void writeCounts(byte[] entry, int labels, int samples) {
    INT.set(entry, 0, entry.length - 4);
    INT.set(entry, 4, samples);
    INT.set(entry, 8, labels);
  }

  private static void writeSamples(
      byte[] entry, int pos, double[] values, long[] timestamps, int samples) {
    for (int i = 0; i < samples; i++) {
      LONG.set(entry, pos, Double.doubleToRawLongBits(values[i]));
      LONG.set(entry, pos + 8, timestamps[i]);
      pos += SAMPLE;
    }
  }

  private static int length(String s) {
    return s == null ? 0 : s.length();
  }

  /**
   * Writes the u32 length and the chars of {@code s} (null: empty) at {@code pos} as bytes and
   * returns the offset after them, or -1 at the first char that is not ASCII.
   */
  private static int writeAscii(String s, byte[] out, int pos) {
    int n = length(s);
    int at = pos + 4;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) {
        return -1;
      }
      out[at++] = (byte) c;
    }
    INT.set(out, pos, n);
    return at;
  }

  static int sampleCount(byte[] entry) {
    return (int) INT.get(entry, 4);
  }

  static int labelCount(byte[] entry) {
    return (int) INT.get(entry, 8);
  }

  /** Where the samples start: after the metric name and the labels. */
  static int samplesOffset(byte[] entry) {
    return entry.length - SAMPLE * sampleCount(entry);
  }

  static double value(byte[] entry, int offset) {
    return Double.longBitsToDouble((long) LONG.get(entry, offset));
  }

  static long timestamp(byte[] entry, int offset) {
    return (long) LONG.get(entry, offset + 8);
  }

  /** The string at {@code offset} (its length prefix). */
  static String string(byte[] entry, int offset) {
    return decode(entry, offset + 4, (int) INT.get(entry, offset), false);
  }

  /** The offset after the string at {@code offset}. */
  static int skipString(byte[] entry, int offset) {
    return offset + 4 + (int) INT.get(entry, offset);
  }

  /**
   * The key of the series: the metric name's and every label name's and value's {@link
   * String#hashCode()}, combined with 31, in order; the same value as computing it from the
   * strings.
   */
  static int key(byte[] entry) {
    int labels = labelCount(entry);
    int pos = HEADER;
    int hash = stringHash(entry, pos);
    pos = skipString(entry, pos);
    for (int i = 0; i < 2 * labels; i++) {
      hash = 31 * hash + stringHash(entry, pos);
      pos = skipString(entry, pos);
    }
    return hash;
  }

  /** {@link String#hashCode()} of the string at {@code offset}, without making it when ASCII. */
  private static int stringHash(byte[] entry, int offset) {
    int length = (int) INT.get(entry, offset);
    int start = offset + 4;
    int hash = 0;
    for (int i = start; i < start + length; i++) {
      byte b = entry[i];
      if (b < 0) {
        return decode(entry, start, length, false).hashCode();
      }
      hash = 31 * hash + b;
    }
    return hash;
  }

  /**
   * Checks that {@code entry} is one well-formed entry: its length, the strings inside it and the
   * samples add up exactly. Read from a stream (state, network), a corrupt entry is an exception
   * here, not a malformed batch later.
   */
  static void check(byte[] entry) throws IOException {
    if (entry.length < HEADER + 4 || (int) INT.get(entry, 0) != entry.length - 4) {
      throw new IOException("Corrupt PrometheusTimeSeries: entry length");
    }
    long samples = Integer.toUnsignedLong(sampleCount(entry));
    long labels = Integer.toUnsignedLong(labelCount(entry));
    long pos = HEADER;
    for (long i = 0; i < 1 + 2 * labels && pos + 4 <= entry.length; i++) {
      pos += 4 + Integer.toUnsignedLong((int) INT.get(entry, (int) pos));
    }
    if (pos + samples * SAMPLE != entry.length) {
      throw new IOException(
          "Corrupt PrometheusTimeSeries: "
              + labels
              + " labels and "
              + samples
              + " samples do not make an entry of "
              + entry.length
              + " bytes");
    }
  }

  /** The entry of the same series holding samples {@code from} (inclusive) to {@code to}. */
  static byte[] slice(byte[] entry, int from, int to) {
    int samplesAt = samplesOffset(entry);
    byte[] part = new byte[samplesAt + SAMPLE * (to - from)];
    System.arraycopy(entry, 0, part, 0, samplesAt);
    System.arraycopy(entry, samplesAt + SAMPLE * from, part, samplesAt, SAMPLE * (to - from));
    INT.set(part, 0, part.length - 4);
    INT.set(part, 4, to - from);
    return part;
  }

  /** Bytes of {@code s} as written by {@link #writeString} (without the length prefix). */
  static int utf8Length(String s) {
    if (s == null) {
      return 0;
    }
    int n = s.length();
    int bytes = n;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) {
        if (c < 0x800) {
          bytes += 1;
        } else if (Character.isHighSurrogate(c)
            && i + 1 < n
            && Character.isLowSurrogate(s.charAt(i + 1))) {
          bytes += 2; // 4 bytes for 2 chars
          i++;
        } else {
          bytes += 2;
        }
      }
    }
    return bytes;
  }

  /** Writes the u32 byte length and the bytes of {@code s} (null: empty) at {@code pos}. */
  private static int writeString(String s, byte[] out, int pos) {
    int n = s == null ? 0 : s.length();
    int at = pos + 4;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        out[at++] = (byte) c;
      } else if (c < 0x800) {
        out[at++] = (byte) (0xC0 | c >> 6);
        out[at++] = (byte) (0x80 | c & 0x3F);
      } else if (Character.isHighSurrogate(c)
          && i + 1 < n
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        int cp = Character.toCodePoint(c, s.charAt(++i));
        out[at++] = (byte) (0xF0 | cp >> 18);
        out[at++] = (byte) (0x80 | cp >> 12 & 0x3F);
        out[at++] = (byte) (0x80 | cp >> 6 & 0x3F);
        out[at++] = (byte) (0x80 | cp & 0x3F);
      } else {
        // Three bytes also for an unpaired surrogate: not UTF-8, on purpose (see above).
        out[at++] = (byte) (0xE0 | c >> 12);
        out[at++] = (byte) (0x80 | c >> 6 & 0x3F);
        out[at++] = (byte) (0x80 | c & 0x3F);
      }
    }
    INT.set(out, pos, at - pos - 4);
    return at;
  }

  /**
   * The string of {@code length} bytes at {@code start}: the inverse of {@link #writeString}
   * (surrogates in their three-byte form come back as they were); a byte sequence that is neither
   * becomes U+FFFD, or, if {@code strict}, makes the answer null.
   */
  static String decode(byte[] bytes, int start, int length, boolean strict) {
    int end = start + length;
    int i = start;
    while (i < end && bytes[i] >= 0) {
      i++;
    }
    if (i == end) {
      return new String(bytes, start, length, StandardCharsets.ISO_8859_1);
    }
    char[] chars = new char[length];
    int n = 0;
    for (int j = start; j < i; j++) {
      chars[n++] = (char) bytes[j];
    }
    while (i < end) {
      int b = bytes[i] & 0xFF;
      if (b < 0x80) {
        chars[n++] = (char) b;
        i += 1;
      } else if (b >= 0xC2 && b < 0xE0 && continued(bytes, i, 2, end)) {
        chars[n++] = (char) ((b & 0x1F) << 6 | bytes[i + 1] & 0x3F);
        i += 2;
      } else if (b >= 0xE0 && b < 0xF0 && continued(bytes, i, 3, end)) {
        int c = (b & 0x0F) << 12 | (bytes[i + 1] & 0x3F) << 6 | bytes[i + 2] & 0x3F;
        if (c < 0x800 && strict) {
          return null;
        }
        chars[n++] = c < 0x800 ? '\uFFFD' : (char) c;
        i += 3;
      } else if (b >= 0xF0 && b < 0xF5 && continued(bytes, i, 4, end)) {
        int cp =
            (b & 0x07) << 18
                | (bytes[i + 1] & 0x3F) << 12
                | (bytes[i + 2] & 0x3F) << 6
                | bytes[i + 3] & 0x3F;
        if (cp < Character.MIN_SUPPLEMENTARY_CODE_POINT || cp > Character.MAX_CODE_POINT) {
          if (strict) {
            return null;
          }
          chars[n++] = '\uFFFD';
        } else {
          chars[n++] = Character.highSurrogate(cp);
          chars[n++] = Character.lowSurrogate(cp);
        }
        i += 4;
      } else if (strict) {
        return null;
      } else {
        chars[n++] = '\uFFFD';
        i += 1;
      }
    }
    return new String(chars, 0, n);
  }

  private static boolean continued(byte[] bytes, int start, int length, int end) {
    if (start + length > end) {
      return false;
    }
    for (int k = 1; k < length; k++) {
      if ((bytes[start + k] & 0xC0) != 0x80) {
        return false;
      }
    }
    return true;
  }
}
