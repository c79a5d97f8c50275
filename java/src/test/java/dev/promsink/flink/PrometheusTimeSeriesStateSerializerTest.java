package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
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
    assertThatThrownBy(() -> new PrometheusTimeSeriesStateSerializer().deserialize(1, new byte[8]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("promsink writer state version 1 cannot be read");
  }
}
