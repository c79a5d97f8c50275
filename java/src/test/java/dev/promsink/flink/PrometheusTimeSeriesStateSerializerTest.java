package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.connector.base.sink.writer.BufferedRequestState;
import org.apache.flink.connector.base.sink.writer.RequestEntryWrapper;
import org.junit.jupiter.api.Test;

class PrometheusTimeSeriesStateSerializerTest {
  private static PrometheusTimeSeries series(String metric, int samples) {
    PrometheusTimeSeries.Builder b =
        PrometheusTimeSeries.builder().withMetricName(metric).addLabel("device", "d-ü");
    for (int i = 0; i < samples; i++) {
      b.addSample(i * 1.5, 1_700_000_000_000L + i);
    }
    b.addSample(Double.longBitsToDouble(0x7ff0000000000002L), 1_800_000_000_000L);
    return b.build();
  }

  @Test
  void bufferedRecordsRoundTrip() throws IOException {
    List<RequestEntryWrapper<PrometheusTimeSeries>> entries = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      PrometheusTimeSeries s = series("m" + i, i + 1);
      entries.add(new RequestEntryWrapper<>(s, s.getSampleCount()));
    }
    PrometheusTimeSeriesStateSerializer serializer = new PrometheusTimeSeriesStateSerializer();
    byte[] bytes = serializer.serialize(new BufferedRequestState<>(entries));
    BufferedRequestState<PrometheusTimeSeries> restored =
        serializer.deserialize(serializer.getVersion(), bytes);

    assertThat(serializer.getVersion()).isEqualTo(2);
    assertThat(restored.getBufferedRequestEntries()).hasSize(5);
    for (int i = 0; i < 5; i++) {
      RequestEntryWrapper<PrometheusTimeSeries> got = restored.getBufferedRequestEntries().get(i);
      assertThat(got.getRequestEntry()).isEqualTo(entries.get(i).getRequestEntry());
      assertThat(got.getSize()).isEqualTo(i + 2);
      PrometheusTimeSeries.Sample[] samples = got.getRequestEntry().getSamples();
      assertThat(Double.doubleToRawLongBits(samples[samples.length - 1].getValue()))
          .isEqualTo(0x7ff0000000000002L);
    }
    assertThat(restored.getStateSize()).isEqualTo(2 + 3 + 4 + 5 + 6);
  }

  @Test
  void stateOfKeyedRecordsIsTheSameAsOfUnkeyedOnes() throws IOException {
    // Records that came through keyBy carry their key; the state does not (version 2 as written
    // by every build), so a savepoint reads back with the build that took it or an earlier one.
    PrometheusTimeSeriesStateSerializer serializer = new PrometheusTimeSeriesStateSerializer();
    PrometheusTimeSeries unkeyed = series("m", 1);
    PrometheusTimeSeries keyed = series("m", 1);
    keyed.key();

    assertThat(keyed.keyKnown()).isTrue();
    assertThat(serializer.serialize(new BufferedRequestState<>(List.of(wrap(keyed)))))
        .isEqualTo(serializer.serialize(new BufferedRequestState<>(List.of(wrap(unkeyed)))));
  }

  private static RequestEntryWrapper<PrometheusTimeSeries> wrap(PrometheusTimeSeries s) {
    return new RequestEntryWrapper<>(s, s.getSampleCount());
  }

  @Test
  void corruptStateIsAnIoException() throws IOException {
    PrometheusTimeSeries s = series("m", 1);
    PrometheusTimeSeriesStateSerializer serializer = new PrometheusTimeSeriesStateSerializer();
    byte[] bytes =
        serializer.serialize(new BufferedRequestState<>(List.of(new RequestEntryWrapper<>(s, 2))));
    byte[] truncated = Arrays.copyOf(bytes, bytes.length - 5);
    assertThatThrownBy(() -> serializer.deserialize(2, truncated)).isInstanceOf(IOException.class);
  }

  @Test
  void otherVersionsAreRefusedWithAClearMessage() {
    assertThatThrownBy(() -> new PrometheusTimeSeriesStateSerializer().deserialize(3, new byte[8]))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "promsink writer state version 3 cannot be read by this version (it reads 1, Apache's"
                + " connector's, and 2); restore without the sink's state (a new sink uid)");
  }

  /**
   * A savepoint of a job using Apache's connector 1.0.0 restores into this sink: {@code
   * tests/golden/apache-writer-state-v1.bin} was written by Apache's own state serializer and
   * converter ({@code ApacheWriterStateFixture} in the bench sources, run against its jar).
   */
  @Test
  void theWriterStateOfApachesConnectorRestoresWithEveryValue() throws IOException {
    byte[] apache = Files.readAllBytes(Paths.get("tests/golden/apache-writer-state-v1.bin"));
    assertThat(apache).hasSize(273);
    BufferedRequestState<PrometheusTimeSeries> restored =
        new PrometheusTimeSeriesStateSerializer().deserialize(1, apache);

    List<RequestEntryWrapper<PrometheusTimeSeries>> entries = restored.getBufferedRequestEntries();
    assertThat(entries).hasSize(3);
    assertThat(entries.get(0).getRequestEntry())
        .isEqualTo(
            PrometheusTimeSeries.builder()
                .withMetricName("fleet_temperature_celsius")
                .addLabel("device", "dev-0007")
                .addLabel("region", "us-east")
                .addSample(21.75, 1_700_000_000_000L)
                .addSample(21.5, 1_700_000_001_000L)
                .build());
    assertThat(entries.get(1).getRequestEntry())
        .isEqualTo(
            PrometheusTimeSeries.builder()
                .withMetricName("größe_bytes")
                .addLabel("Zone", "ü-1")
                .addSample(Double.longBitsToDouble(0x7ff0000000000002L), 1_800_000_000_000L)
                .build());
    PrometheusTimeSeries.Sample[] nan = entries.get(1).getRequestEntry().getSamples();
    assertThat(Double.doubleToRawLongBits(nan[0].getValue())).isEqualTo(0x7ff0000000000002L);
    PrometheusTimeSeries up = entries.get(2).getRequestEntry();
    assertThat(up.getMetricName()).isEqualTo("up");
    assertThat(up.getLabels()).isEmpty();
    PrometheusTimeSeries.Sample[] samples = up.getSamples();
    assertThat(samples).hasSize(3);
    assertThat(samples[0].getValue()).isEqualTo(1.0);
    assertThat(samples[0].getTimestamp()).isEqualTo(1);
    assertThat(Double.doubleToRawLongBits(samples[1].getValue())).isEqualTo(1L << 63); // -0.0
    assertThat(samples[1].getTimestamp()).isEqualTo(2);
    assertThat(samples[2].getValue()).isEqualTo(Double.NEGATIVE_INFINITY);
    assertThat(samples[2].getTimestamp()).isEqualTo(-3);
    // Sizes are sample counts, as this sink's writer counts them.
    assertThat(entries.get(0).getSize()).isEqualTo(2);
    assertThat(entries.get(1).getSize()).isEqualTo(1);
    assertThat(entries.get(2).getSize()).isEqualTo(3);
    assertThat(restored.getStateSize()).isEqualTo(6);

    // The next checkpoint is written in this sink's own format and reads back the same.
    PrometheusTimeSeriesStateSerializer serializer = new PrometheusTimeSeriesStateSerializer();
    BufferedRequestState<PrometheusTimeSeries> again =
        serializer.deserialize(2, serializer.serialize(restored));
    for (int i = 0; i < 3; i++) {
      assertThat(again.getBufferedRequestEntries().get(i).getRequestEntry())
          .isEqualTo(entries.get(i).getRequestEntry());
    }
  }

  @Test
  void aCorruptVersion1StateNamesBothFormats() throws IOException {
    byte[] apache = Files.readAllBytes(Paths.get("tests/golden/apache-writer-state-v1.bin"));
    byte[] truncated = Arrays.copyOf(apache, apache.length - 3);
    assertThatThrownBy(() -> new PrometheusTimeSeriesStateSerializer().deserialize(1, truncated))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "writer state version 1 is neither the state of Apache's Prometheus connector 1.0.0"
                + " (corrupt writer state of Apache's Prometheus connector: entry 2 claims 64"
                + " bytes, 61 left) nor readable by this version (a pre-release promsink state);"
                + " restore without the sink's state (a new sink uid)");
    assertThatThrownBy(() -> new PrometheusTimeSeriesStateSerializer().deserialize(1, new byte[8]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("(not a writer state of Apache's Prometheus connector: bad header)");
  }
}
