package dev.promsink.flink;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.RequestEntryWrapper;

/**
 * Reads the writer state of Apache's Prometheus connector 1.0.0 (its {@code
 * PrometheusStateSerializer}, version 1), so that a savepoint taken with Apache's sink restores
 * into this one with its buffered records.
 *
 * <p>That format is Flink's {@code AsyncSinkWriterStateSerializer} layout: the long -1, the number
 * of entries, then per entry its size (a long) and that many bytes of a protobuf {@code
 * prometheus.TimeSeries} (labels, field 1: name 1, value 2; samples, field 2: value 1 as a double,
 * timestamp 2 as a varint). Apache's converter stores the metric name as the first label, {@code
 * __name__}; it becomes the record's metric name again here. Read by hand: the protobuf runtime is
 * not a dependency of this sink.
 */
final class ApacheWriterState {
  /** The state version Apache's connector writes. */
  static final int VERSION = 1;

  private static final long DATA_IDENTIFIER = -1;
  private static final int WIRE_VARINT = 0;
  private static final int WIRE_FIXED64 = 1;
  private static final int WIRE_LEN = 2;
  private static final int WIRE_FIXED32 = 5;

  private ApacheWriterState() {}

  /** The buffered records of Apache's writer state; each entry's size is its sample count. */
  static BufferedRequestState<PrometheusTimeSeries> read(byte[] serialized) throws IOException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
    if (in.readLong() != DATA_IDENTIFIER) {
      throw new IOException("not a writer state of Apache's Prometheus connector: bad header");
    }
    int count = in.readInt();
    if (count < 0 || count > serialized.length) {
      throw new IOException("corrupt writer state of Apache's Prometheus connector: " + count);
    }
    List<RequestEntryWrapper<PrometheusTimeSeries>> entries = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      long size = in.readLong();
      if (size < 0 || size > in.available()) {
        throw new IOException(
            "corrupt writer state of Apache's Prometheus connector: entry "
                + i
                + " claims "
                + size
                + " bytes, "
                + in.available()
                + " left");
      }
      byte[] timeSeries = new byte[(int) size];
      in.readFully(timeSeries);
      PrometheusTimeSeries record = timeSeries(new Reader(timeSeries, 0, timeSeries.length), i);
      entries.add(new RequestEntryWrapper<>(record, record.getSampleCount()));
    }
    if (in.available() != 0) {
      throw new IOException(
          "corrupt writer state of Apache's Prometheus connector: "
              + in.available()
              + " bytes after the last entry");
    }
    return new BufferedRequestState<>(entries);
  }

  private static PrometheusTimeSeries timeSeries(Reader r, int index) throws IOException {
    PrometheusTimeSeries.Builder b = PrometheusTimeSeries.builder();
    while (r.more()) {
      long key = r.varint();
      int field = (int) (key >>> 3);
      int wire = (int) (key & 7);
      if (field == 1 && wire == WIRE_LEN) {
        Reader label = r.nested();
        String name = "";
        String value = "";
        while (label.more()) {
          long k = label.varint();
          if (k == (1 << 3 | WIRE_LEN)) {
            name = label.string();
          } else if (k == (2 << 3 | WIRE_LEN)) {
            value = label.string();
          } else {
            label.skip((int) (k & 7));
          }
        }
        if (name.equals("__name__")) {
          b.withMetricName(value);
        } else {
          b.addLabel(name, value);
        }
      } else if (field == 2 && wire == WIRE_LEN) {
        Reader sample = r.nested();
        double value = 0;
        long timestamp = 0;
        while (sample.more()) {
          long k = sample.varint();
          if (k == (1 << 3 | WIRE_FIXED64)) {
            value = Double.longBitsToDouble(sample.fixed64());
          } else if (k == (2 << 3 | WIRE_VARINT)) {
            timestamp = sample.varint();
          } else {
            sample.skip((int) (k & 7));
          }
        }
        b.addSample(value, timestamp);
      } else if (field == 3 || field == 4) {
        // Exemplars and native histograms: Apache's connector never writes them.
        throw new IOException(
            "entry " + index + " of Apache's writer state holds exemplars or histograms");
      } else {
        r.skip(wire);
      }
    }
    return b.build();
  }

  /** A bounded protobuf reader over {@code bytes[from, to)}. */
  private static final class Reader {
    private final byte[] bytes;
    private int at;
    private final int end;

    Reader(byte[] bytes, int from, int to) {
      this.bytes = bytes;
      this.at = from;
      this.end = to;
    }

    boolean more() {
      return at < end;
    }

    private byte next() throws IOException {
      if (at >= end) {
        throw new IOException("truncated protobuf in Apache's writer state");
      }
      return bytes[at++];
    }

    long varint() throws IOException {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        byte b = next();
        v |= (long) (b & 0x7f) << shift;
        if (b >= 0) {
          return v;
        }
      }
      throw new IOException("malformed varint in Apache's writer state");
    }

    long fixed64() throws IOException {
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v |= (next() & 0xffL) << (8 * i);
      }
      return v;
    }

    private int length() throws IOException {
      long n = varint();
      if (n < 0 || n > end - at) {
        throw new IOException("truncated protobuf in Apache's writer state");
      }
      return (int) n;
    }

    Reader nested() throws IOException {
      int n = length();
      Reader r = new Reader(bytes, at, at + n);
      at += n;
      return r;
    }

    String string() throws IOException {
      int n = length();
      String s = new String(bytes, at, n, StandardCharsets.UTF_8);
      at += n;
      return s;
    }

    void skip(int wire) throws IOException {
      switch (wire) {
        case WIRE_VARINT:
          varint();
          break;
        case WIRE_FIXED64:
          fixed64();
          break;
        case WIRE_LEN:
          at += length();
          break;
        case WIRE_FIXED32:
          for (int i = 0; i < 4; i++) {
            next();
          }
          break;
        default:
          throw new IOException("unsupported protobuf wire type " + wire + " in Apache's state");
      }
    }
  }
}
