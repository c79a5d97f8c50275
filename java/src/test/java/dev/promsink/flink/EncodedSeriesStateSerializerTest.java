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

class EncodedSeriesStateSerializerTest {
  private static EncodedSeries series(String metric, int samples) {
    PrometheusTimeSeries.Builder b =
        PrometheusTimeSeries.builder().withMetricName(metric).addLabel("device", "d-ü");
    for (int i = 0; i < samples; i++) {
      b.addSample(i * 1.5, 1_700_000_000_000L + i);
    }
    return EncodedSeries.of(b.build());
  }

  @Test
  void bufferedEntriesRoundTrip() throws IOException {
    List<RequestEntryWrapper<EncodedSeries>> entries = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      EncodedSeries s = series("m" + i, i + 1);
      entries.add(new RequestEntryWrapper<>(s, s.sampleCount()));
    }
    EncodedSeriesStateSerializer serializer = new EncodedSeriesStateSerializer();
    byte[] bytes = serializer.serialize(new BufferedRequestState<>(entries));
    BufferedRequestState<EncodedSeries> restored =
        serializer.deserialize(serializer.getVersion(), bytes);

    assertThat(serializer.getVersion()).isEqualTo(1);
    assertThat(restored.getBufferedRequestEntries()).hasSize(5);
    for (int i = 0; i < 5; i++) {
      RequestEntryWrapper<EncodedSeries> got = restored.getBufferedRequestEntries().get(i);
      assertThat(got.getRequestEntry().bytes()).isEqualTo(entries.get(i).getRequestEntry().bytes());
      assertThat(got.getSize()).isEqualTo(i + 1);
      assertThat(got.getRequestEntry().sampleCount()).isEqualTo(i + 1);
    }
    assertThat(restored.getStateSize()).isEqualTo(1 + 2 + 3 + 4 + 5);
  }

  @Test
  void corruptStateIsAnIoException() throws IOException {
    EncodedSeries s = series("m", 1);
    EncodedSeriesStateSerializer serializer = new EncodedSeriesStateSerializer();
    byte[] bytes =
        serializer.serialize(new BufferedRequestState<>(List.of(new RequestEntryWrapper<>(s, 1))));
    byte[] truncated = Arrays.copyOf(bytes, bytes.length - 5);
    assertThatThrownBy(() -> serializer.deserialize(1, truncated)).isInstanceOf(IOException.class);
  }
}
