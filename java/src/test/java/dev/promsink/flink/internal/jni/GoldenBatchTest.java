package dev.promsink.flink.internal.jni;

import static org.assertj.core.api.Assertions.assertThat;

import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.TestBatchEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Java batch writer ({@code dev.promsink.flink.BatchEncoder}, through {@link TestBatchEncoder})
 * produces exactly the bytes of the shared golden vector {@code tests/golden/batch-v1.txt}, which
 * the Rust reader and writer are held to by cargo tests.
 */
class GoldenBatchTest {
  @Test
  void javaWriterProducesTheGoldenBytes() throws Exception {
    List<String> lines =
        Files.readAllLines(Paths.get("tests/golden/batch-v1.txt"), StandardCharsets.UTF_8);
    List<PrometheusTimeSeries> entries = new ArrayList<>();
    StringBuilder hex = new StringBuilder();
    String metric = null;
    List<String> labels = new ArrayList<>();
    List<Double> values = new ArrayList<>();
    List<Long> timestamps = new ArrayList<>();
    for (String line : lines) {
      String[] parts = line.split(" ");
      if (line.startsWith("series ") || line.startsWith("hex ")) {
        if (metric != null) {
          entries.add(entry(metric, labels, values, timestamps));
          metric = null;
        }
      }
      if (line.startsWith("series ")) {
        metric = parts[1].equals("-") ? "" : parts[1];
        labels = new ArrayList<>();
        values = new ArrayList<>();
        timestamps = new ArrayList<>();
        for (int i = 2; i < parts.length; i++) {
          int eq = parts[i].indexOf('=');
          labels.add(parts[i].substring(0, eq));
          labels.add(parts[i].substring(eq + 1));
        }
      } else if (line.startsWith("sample ")) {
        values.add(Double.longBitsToDouble(Long.parseUnsignedLong(parts[1], 16)));
        timestamps.add(Long.parseLong(parts[2]));
      } else if (line.startsWith("hex ")) {
        hex.append(parts[1]);
      }
    }
    assertThat(entries).hasSize(4);
    ByteBuffer batch = new TestBatchEncoder().encode(entries);
    byte[] written = new byte[batch.remaining()];
    batch.get(written);
    StringBuilder writtenHex = new StringBuilder();
    for (byte b : written) {
      writtenHex.append(String.format("%02x", b & 0xff));
    }
    assertThat(writtenHex.toString()).isEqualTo(hex.toString());
  }

  private static PrometheusTimeSeries entry(
      String metric, List<String> labels, List<Double> values, List<Long> timestamps) {
    PrometheusTimeSeries.Builder b = PrometheusTimeSeries.builder().withMetricName(metric);
    for (int i = 0; i < labels.size(); i += 2) {
      b.addLabel(labels.get(i), labels.get(i + 1));
    }
    for (int i = 0; i < values.size(); i++) {
      b.addSample(values.get(i), timestamps.get(i));
    }
    return b.build();
  }
}
