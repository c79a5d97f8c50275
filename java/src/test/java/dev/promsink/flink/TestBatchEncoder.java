package dev.promsink.flink;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Opens the package-private {@link BatchEncoder} to the bridge's tests and the benchmarks in other
 * packages, so that the encoder itself stays out of the public API.
 */
public final class TestBatchEncoder {
  private final BatchEncoder encoder = new BatchEncoder();

  /** See {@link BatchEncoder#encode}: the returned buffer is overwritten by the next call. */
  public ByteBuffer encode(List<PrometheusTimeSeries> records) {
    return encoder.encode(records);
  }
}
