package dev.promsink.flink.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.RequestEntryWrapper;
import org.apache.flink.connector.prometheus.sink.PrometheusStateSerializer;
import org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries;
import org.apache.flink.connector.prometheus.sink.PrometheusTimeSeriesConverter;
import org.apache.flink.connector.prometheus.sink.prometheus.Types;

/**
 * Writes {@code tests/golden/apache-writer-state-v1.bin}: the writer state Apache's Prometheus
 * connector 1.0.0 checkpoints for three buffered records, serialized by its own {@code
 * PrometheusStateSerializer} and converter. {@code PrometheusTimeSeriesStateSerializerTest}
 * restores it into promsink and checks every value. Run with the bench profile's classpath
 * (Apache's jar): {@code java -cp <bench classpath>
 * dev.promsink.flink.bench.ApacheWriterStateFixture <file>}.
 */
public final class ApacheWriterStateFixture {
  private ApacheWriterStateFixture() {}

  /** The records; the test holds the same values. */
  static List<PrometheusTimeSeries> records() {
    List<PrometheusTimeSeries> out = new ArrayList<>();
    out.add(
        PrometheusTimeSeries.builder()
            .withMetricName("fleet_temperature_celsius")
            .addLabel("device", "dev-0007")
            .addLabel("region", "us-east")
            .addSample(21.75, 1_700_000_000_000L)
            .addSample(21.5, 1_700_000_001_000L)
            .build());
    out.add(
        PrometheusTimeSeries.builder()
            .withMetricName("größe_bytes")
            .addLabel("Zone", "ü-1")
            .addSample(Double.longBitsToDouble(0x7ff0000000000002L), 1_800_000_000_000L)
            .build());
    out.add(
        PrometheusTimeSeries.builder()
            .withMetricName("up")
            .addSample(1, 1)
            .addSample(-0.0, 2)
            .addSample(Double.NEGATIVE_INFINITY, -3)
            .build());
    return out;
  }

  /**
   * Writes the fixture.
   *
   * @param args the output file
   */
  public static void main(String[] args) throws Exception {
    PrometheusTimeSeriesConverter converter = new PrometheusTimeSeriesConverter();
    List<RequestEntryWrapper<Types.TimeSeries>> entries = new ArrayList<>();
    for (PrometheusTimeSeries r : records()) {
      Types.TimeSeries ts = converter.apply(r, null);
      entries.add(new RequestEntryWrapper<>(ts, ts.getSamplesCount()));
    }
    byte[] state = new PrometheusStateSerializer().serialize(new BufferedRequestState<>(entries));
    Path out = Paths.get(args[0]);
    Files.write(out, state);
    System.out.println(
        "wrote "
            + out
            + ": "
            + state.length
            + " bytes, version "
            + new PrometheusStateSerializer().getVersion());
  }
}
