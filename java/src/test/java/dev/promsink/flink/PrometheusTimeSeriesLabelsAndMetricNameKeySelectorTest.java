package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.flink.api.common.typeinfo.BasicTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.TypeExtractor;
import org.junit.jupiter.api.Test;

class PrometheusTimeSeriesLabelsAndMetricNameKeySelectorTest {

  private final PrometheusTimeSeriesLabelsAndMetricNameKeySelector selector =
      new PrometheusTimeSeriesLabelsAndMetricNameKeySelector();

  private static PrometheusTimeSeries series(String metricName, String... labelNamesAndValues) {
    PrometheusTimeSeries.Builder builder =
        PrometheusTimeSeries.builder().withMetricName(metricName);
    for (int i = 0; i < labelNamesAndValues.length; i += 2) {
      builder.addLabel(labelNamesAndValues[i], labelNamesAndValues[i + 1]);
    }
    return builder.build();
  }

  @Test
  void sameSeriesWithDifferentSamplesGetsSameKey() {
    PrometheusTimeSeries a =
        PrometheusTimeSeries.builderFrom(series("up", "job", "api", "instance", "h1"))
            .addSample(1.0, 1_000L)
            .build();
    PrometheusTimeSeries b =
        PrometheusTimeSeries.builderFrom(series("up", "job", "api", "instance", "h1"))
            .addSample(0.0, 2_000L)
            .addSample(Double.NaN, 3_000L)
            .build();

    assertThat(selector.getKey(a)).isEqualTo(selector.getKey(b));
  }

  @Test
  void differentLabelValueGivesDifferentKey() {
    assertThat(selector.getKey(series("up", "job", "api")))
        .isNotEqualTo(selector.getKey(series("up", "job", "web")));
    assertThat(selector.getKey(series("up", "job", "api", "instance", "h1")))
        .isNotEqualTo(selector.getKey(series("up", "job", "api", "instance", "h2")));
    assertThat(selector.getKey(series("cpu", "mode", "idle", "cpu", "0")))
        .isNotEqualTo(selector.getKey(series("cpu", "mode", "user", "cpu", "0")));
  }

  @Test
  void differentLabelNameGivesDifferentKey() {
    assertThat(selector.getKey(series("up", "job", "api")))
        .isNotEqualTo(selector.getKey(series("up", "service", "api")));
  }

  @Test
  void differentMetricNameGivesDifferentKey() {
    assertThat(selector.getKey(series("up", "job", "api")))
        .isNotEqualTo(selector.getKey(series("down", "job", "api")));
    assertThat(selector.getKey(series("http_requests_total")))
        .isNotEqualTo(selector.getKey(series("http_requests_failed")));
  }

  @Test
  void nullMetricNameIsAccepted() {
    assertThat(selector.getKey(series(null, "a", "b")))
        .isEqualTo(selector.getKey(series(null, "a", "b")));
  }

  @Test
  void keyIsAFixedFunctionOfMetricNameAndLabels() {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builderFrom(
                series("http_requests_total", "job", "api", "instance", "host-1:9090"))
            .addSample(1.0, 1_700_000_000_000L)
            .build();

    assertThat(selector.getKey(record)).isEqualTo(EXPECTED_KEY);
  }

  @Test
  void keyFromTheRecordsBytesEqualsTheKeyFromItsStringsAlsoBeyondAscii() {
    String[][] cases = {
      {"temperature_celsius", "city", "Zürich", "sensor", "東京-1"},
      {"m", "emoji", "\uD83D\uDE00", "unpaired", "\uD800x"},
      {"", "a", ""}
    };
    for (String[] c : cases) {
      PrometheusTimeSeries.Builder b = PrometheusTimeSeries.builder().withMetricName(c[0]);
      int expected = c[0].hashCode();
      for (int i = 1; i + 1 < c.length; i += 2) {
        b.addLabel(c[i], c[i + 1]);
        expected = 31 * (31 * expected + c[i].hashCode()) + c[i + 1].hashCode();
      }
      PrometheusTimeSeries built = b.build();
      // From the builder's strings, and from the bytes alone (a record read by the serializer).
      assertThat(selector.getKey(built)).as(String.join(",", c)).isEqualTo(expected);
      PrometheusTimeSeries read = PrometheusTimeSeries.ofEntry(built.entry(), true);
      assertThat(selector.getKey(read)).as(String.join(",", c)).isEqualTo(expected);
      assertThat(selector.getKey(read)).as("computed once, then kept").isEqualTo(expected);
    }
  }

  @Test
  void keyTypeIsExtractedAsInteger() {
    TypeInformation<Integer> keyType =
        TypeExtractor.getKeySelectorTypes(selector, TypeInformation.of(PrometheusTimeSeries.class));

    assertThat(keyType).isEqualTo(BasicTypeInfo.INT_TYPE_INFO);
  }

  private static final int EXPECTED_KEY = 375303748;
}
