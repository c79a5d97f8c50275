package dev.promsink.flink.bench.jmh;

import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.TestBatchEncoder;
import dev.promsink.flink.internal.jni.NativeClient;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.xerial.snappy.Snappy;

/**
 * Benchmark 1 of docs/benchmarks.md: CPU per sample from {@link PrometheusTimeSeries} records to
 * the compressed request body, without the network. One operation is one batch; divide by the
 * batch's samples (the {@code batchSamples} parameter) for ns and bytes per sample.
 *
 * <ul>
 *   <li>{@code promsink}: batch assembly in Java (the element converter is the identity), one JNI
 *       call, native parse, validate, normalise, encode, snappy: exactly what the sink's mailbox
 *       thread pays per batch.
 *   <li>{@code apacheConnector}: the same work in Apache's connector 1.0.0 (its jar, bench profile
 *       only), with its own classes: its element converter ({@code PrometheusTimeSeriesConverter},
 *       a protobuf {@code TimeSeries} per record of its own record type), then per batch what its
 *       writer's {@code submitRequestEntries} does before the HTTP call: a {@code WriteRequest} of
 *       the batch, {@code toByteArray}, snappy-java. Its records are built from the same data.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CpuPerSampleBenchmark {
  /** W1: distinct series, 5 labels, 1 sample per record. W2: 10,000 series, 10 per record. */
  @Param({"W1", "W2"})
  public String workload;

  @Param({"500", "5000"})
  public int batchSamples;

  private final List<List<PrometheusTimeSeries>> batches = new ArrayList<>();
  private final List<List<org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries>>
      apacheBatches = new ArrayList<>();
  private final org.apache.flink.connector.prometheus.sink.PrometheusTimeSeriesConverter
      apacheConverter =
          new org.apache.flink.connector.prometheus.sink.PrometheusTimeSeriesConverter();
  private final TestBatchEncoder encoder = new TestBatchEncoder();
  private int next;

  @Setup
  public void setUp() {
    int count = Math.max(8, 400_000 / batchSamples);
    long base = 1_700_000_000_000L;
    long series = 0;
    for (int b = 0; b < count; b++) {
      List<PrometheusTimeSeries> batch = new ArrayList<>();
      List<org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries> apacheBatch =
          new ArrayList<>();
      int samplesPerRecord = workload.equals("W1") ? 1 : 10;
      for (int i = 0; i < batchSamples / samplesPerRecord; i++) {
        long s = workload.equals("W1") ? series++ : (series++ % 10_000);
        String metric = "bench_" + workload.toLowerCase();
        String[] labels = {
          "device", "dev-" + s,
          "fleet", "fleet-" + (s % 100),
          "model", "model-" + (s % 7),
          "region", "region-" + (s % 5),
          "firmware", "fw-1." + (s % 13)
        };
        PrometheusTimeSeries.Builder r = PrometheusTimeSeries.builder().withMetricName(metric);
        org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.Builder a =
            org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.builder()
                .withMetricName(metric);
        for (int l = 0; l < labels.length; l += 2) {
          r.addLabel(labels[l], labels[l + 1]);
          a.addLabel(labels[l], labels[l + 1]);
        }
        for (int j = 0; j < samplesPerRecord; j++) {
          r.addSample(s * 0.5 + j, base + s + j * 1000L);
          a.addSample(s * 0.5 + j, base + s + j * 1000L);
        }
        batch.add(r.build());
        apacheBatch.add(a.build());
      }
      batches.add(batch);
      apacheBatches.add(apacheBatch);
    }
  }

  private List<PrometheusTimeSeries> nextBatch() {
    List<PrometheusTimeSeries> batch = batches.get(next);
    next = (next + 1) % batches.size();
    return batch;
  }

  @Benchmark
  public int promsink() {
    ByteBuffer buffer = encoder.encode(nextBatch());
    return NativeClient.prepareOnly(buffer, buffer.limit());
  }

  /** The Java share of {@link #promsink}: batch assembly into the direct buffer only. */
  @Benchmark
  public int promsinkJavaPart() {
    return encoder.encode(nextBatch()).limit();
  }

  /**
   * The least any sink running in the JVM does per batch: read every character of every name and
   * value and every sample of the records (a checksum), writing nothing. With the Rust floor
   * (encode + snappy of the same data, scripts/bench.sh section 1) it bounds what any
   * implementation can reach.
   */
  @Benchmark
  public long readRecordsOnly() {
    long sum = 0;
    for (PrometheusTimeSeries r : nextBatch()) {
      sum += checksum(r.getMetricName());
      for (PrometheusTimeSeries.Label l : r.getLabels()) {
        sum += checksum(l.getName()) + checksum(l.getValue());
      }
      for (PrometheusTimeSeries.Sample s : r.getSamples()) {
        sum += Double.doubleToRawLongBits(s.getValue()) ^ s.getTimestamp();
      }
    }
    return sum;
  }

  private static long checksum(String s) {
    long h = s.length();
    for (int i = 0; i < s.length(); i++) {
      h += s.charAt(i);
    }
    return h;
  }

  /**
   * Apache's connector, records to compressed body: its element converter per record, then its
   * writer's request body per batch (WriteRequest, toByteArray, snappy-java).
   */
  @Benchmark
  public int apacheConnector() throws IOException {
    List<org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries> batch =
        apacheBatches.get(next);
    next = (next + 1) % apacheBatches.size();
    org.apache.flink.connector.prometheus.sink.prometheus.Remote.WriteRequest.Builder request =
        org.apache.flink.connector.prometheus.sink.prometheus.Remote.WriteRequest.newBuilder();
    for (org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries r : batch) {
      request.addTimeseries(apacheConverter.apply(r, null));
    }
    return Snappy.compress(request.build().toByteArray()).length;
  }
}
