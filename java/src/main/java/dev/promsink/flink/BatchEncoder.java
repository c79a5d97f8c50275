package dev.promsink.flink;

import dev.promsink.flink.internal.jni.BatchFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Writes a batch of {@link PrometheusTimeSeries} in the JNI batch format, version 1 ({@code
 * docs/batch-format.md}), into a direct buffer reused from batch to batch. Internal to the sink
 * (tests and benchmarks reach it through the test class {@code TestBatchEncoder}).
 *
 * <p>Each record already holds its series as a batch entry ({@link SeriesEntry}), written once by
 * its builder: a batch is the header and those entries copied one after the other into a reused
 * direct buffer, one copy per byte.
 */
final class BatchEncoder {
  private ByteBuffer direct;

  /**
   * Encodes {@code records} as one batch. Returns the direct buffer (owned by this encoder and
   * overwritten by the next call), positioned at 0 with its limit at the batch's end.
   */
  ByteBuffer encode(List<PrometheusTimeSeries> records) {
    long size = BatchFormat.HEADER_LENGTH;
    for (PrometheusTimeSeries r : records) {
      size += r.entry().length;
    }
    if (size > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("a batch larger than 2 GiB cannot be encoded");
    }
    if (direct == null || direct.capacity() < size) {
      direct =
          ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE - 16, size / 2 * 3 + 64))
              .order(ByteOrder.LITTLE_ENDIAN);
    }
    direct.clear();
    direct.putInt(BatchFormat.MAGIC);
    direct.putShort(BatchFormat.VERSION);
    direct.putShort((short) 0);
    direct.putInt(records.size());
    for (PrometheusTimeSeries r : records) {
      direct.put(r.entry()); // the record holds its series as a batch entry
    }
    direct.flip();
    return direct;
  }
}
