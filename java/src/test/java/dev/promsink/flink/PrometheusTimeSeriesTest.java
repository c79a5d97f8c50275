package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.promsink.flink.PrometheusTimeSeries.Label;
import dev.promsink.flink.PrometheusTimeSeries.Sample;
import org.junit.jupiter.api.Test;

class PrometheusTimeSeriesTest {

  private static PrometheusTimeSeries sample() {
    return PrometheusTimeSeries.builder()
        .withMetricName("http_requests_total")
        .addLabel("job", "api")
        .addLabel("instance", "host-1:9090")
        .addSample(1.5, 1_700_000_000_000L)
        .addSample(2.5, 1_700_000_001_000L)
        .build();
  }

  @Test
  void builderBuildsExactlyWhatWasAddedInOrder() {
    PrometheusTimeSeries ts = sample();

    assertThat(ts.getMetricName()).isEqualTo("http_requests_total");
    assertThat(ts.getLabels())
        .containsExactly(new Label("job", "api"), new Label("instance", "host-1:9090"));
    assertThat(ts.getSamples())
        .containsExactly(new Sample(1.5, 1_700_000_000_000L), new Sample(2.5, 1_700_000_001_000L));
    assertThat(ts.getSampleCount()).isEqualTo(2);
    assertThat(ts.getLabels()[1].getName()).isEqualTo("instance");
    assertThat(ts.getLabels()[1].getValue()).isEqualTo("host-1:9090");
    assertThat(ts.getSamples()[1].getValue()).isEqualTo(2.5);
    assertThat(ts.getSamples()[1].getTimestamp()).isEqualTo(1_700_000_001_000L);
  }

  @Test
  void emptyBuilderBuildsEmptyArrays() {
    PrometheusTimeSeries ts = PrometheusTimeSeries.builder().build();

    assertThat(ts.getMetricName()).isNull();
    assertThat(ts.getLabels()).isEmpty();
    assertThat(ts.getSamples()).isEmpty();
    assertThat(ts.getSampleCount()).isZero();
  }

  @Test
  void builderIsNotAffectedByLaterAdditions() {
    PrometheusTimeSeries.Builder builder =
        PrometheusTimeSeries.builder().withMetricName("m").addLabel("a", "1").addSample(1, 1);
    PrometheusTimeSeries first = builder.build();

    builder.addLabel("b", "2").addSample(2, 2);

    assertThat(first.getLabels()).containsExactly(new Label("a", "1"));
    assertThat(first.getSamples()).containsExactly(new Sample(1, 1));
  }

  @Test
  void builderFromCopiesEverything() {
    PrometheusTimeSeries original = sample();

    PrometheusTimeSeries copy = PrometheusTimeSeries.builderFrom(original).build();

    assertThat(copy).isEqualTo(original);
    assertThat(copy.getLabels()).isNotSameAs(original.getLabels());
    assertThat(copy.getSamples()).isNotSameAs(original.getSamples());
  }

  @Test
  void builderFromAllowsAddingLabelsAndSamplesAndRenamingWithoutChangingOriginal() {
    PrometheusTimeSeries original = sample();

    PrometheusTimeSeries changed =
        PrometheusTimeSeries.builderFrom(original)
            .withMetricName("http_requests")
            .addLabel("region", "eu")
            .addSample(3.5, 1_700_000_002_000L)
            .build();

    assertThat(changed.getMetricName()).isEqualTo("http_requests");
    assertThat(changed.getLabels())
        .containsExactly(
            new Label("job", "api"),
            new Label("instance", "host-1:9090"),
            new Label("region", "eu"));
    assertThat(changed.getSamples())
        .containsExactly(
            new Sample(1.5, 1_700_000_000_000L),
            new Sample(2.5, 1_700_000_001_000L),
            new Sample(3.5, 1_700_000_002_000L));
    assertThat(original).isEqualTo(sample());
  }

  @Test
  void builderFromRejectsNull() {
    assertThatThrownBy(() -> PrometheusTimeSeries.builderFrom(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("other must not be null");
  }

  @Test
  void missingMetricNameIsAllowed() {
    PrometheusTimeSeries ts = PrometheusTimeSeries.builder().addLabel("a", "b").build();

    assertThat(ts.getMetricName()).isNull();
    assertThat(ts.getLabels()).containsExactly(new Label("a", "b"));
  }

  @Test
  void emptyAndInvalidNamesAreNotRejectedByTheBuilder() {
    PrometheusTimeSeries ts =
        PrometheusTimeSeries.builder().withMetricName("").addLabel("0 bad-name", "").build();

    assertThat(ts.getMetricName()).isEmpty();
    assertThat(ts.getLabels()).containsExactly(new Label("0 bad-name", ""));
  }

  @Test
  void nullLabelNameIsRejectedWithMessage() {
    PrometheusTimeSeries.Builder builder = PrometheusTimeSeries.builder();

    assertThatThrownBy(() -> builder.addLabel(null, "v"))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("label name must not be null");
  }

  @Test
  void nullLabelValueIsRejectedWithMessage() {
    PrometheusTimeSeries.Builder builder = PrometheusTimeSeries.builder();

    assertThatThrownBy(() -> builder.addLabel("n", null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("label value must not be null");
  }

  @Test
  void equalRecordsHaveEqualHashCodes() {
    PrometheusTimeSeries a = sample();
    PrometheusTimeSeries b = sample();

    assertThat(a).isEqualTo(b);
    assertThat(a.hashCode()).isEqualTo(b.hashCode());
  }

  @Test
  void recordsDifferingInAnyPartAreNotEqual() {
    PrometheusTimeSeries base = sample();

    assertThat(PrometheusTimeSeries.builderFrom(base).withMetricName("other").build())
        .isNotEqualTo(base);
    assertThat(PrometheusTimeSeries.builderFrom(base).withMetricName(null).build())
        .isNotEqualTo(base);
    assertThat(PrometheusTimeSeries.builderFrom(base).addLabel("x", "y").build())
        .isNotEqualTo(base);
    assertThat(PrometheusTimeSeries.builderFrom(base).addSample(0, 0).build()).isNotEqualTo(base);
  }

  @Test
  void labelOrderMattersForEquality() {
    PrometheusTimeSeries ab =
        PrometheusTimeSeries.builder().addLabel("a", "1").addLabel("b", "2").build();
    PrometheusTimeSeries ba =
        PrometheusTimeSeries.builder().addLabel("b", "2").addLabel("a", "1").build();

    assertThat(ab).isNotEqualTo(ba);
  }

  @Test
  void labelEqualsAndHashCode() {
    assertThat(new Label("a", "b")).isEqualTo(new Label("a", "b"));
    assertThat(new Label("a", "b").hashCode()).isEqualTo(new Label("a", "b").hashCode());
    assertThat(new Label("a", "b")).isNotEqualTo(new Label("a", "c"));
    assertThat(new Label("a", "b")).isNotEqualTo(new Label("c", "b"));
  }

  @Test
  void sampleEqualsAndHashCode() {
    assertThat(new Sample(1.0, 5L)).isEqualTo(new Sample(1.0, 5L));
    assertThat(new Sample(1.0, 5L).hashCode()).isEqualTo(new Sample(1.0, 5L).hashCode());
    assertThat(new Sample(1.0, 5L)).isNotEqualTo(new Sample(1.0, 6L));
    assertThat(new Sample(1.0, 5L)).isNotEqualTo(new Sample(2.0, 5L));
    assertThat(new Sample(0.0, 5L)).isNotEqualTo(new Sample(-0.0, 5L));
  }

  @Test
  void nanSamplesAreEqual() {
    Sample a = new Sample(Double.NaN, 7L);
    Sample b = new Sample(Double.NaN, 7L);

    assertThat(a).isEqualTo(b);
    assertThat(a.hashCode()).isEqualTo(b.hashCode());
    assertThat(PrometheusTimeSeries.builder().addSample(Double.NaN, 7L).build())
        .isEqualTo(PrometheusTimeSeries.builder().addSample(Double.NaN, 7L).build());
  }

  @Test
  void toStringShowsContents() {
    PrometheusTimeSeries ts =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("a", "b")
            .addSample(1.5, 2L)
            .build();

    assertThat(ts.toString())
        .isEqualTo(
            "PrometheusTimeSeries{metricName='m', labels=[Label{name='a', value='b'}],"
                + " samples=[Sample{value=1.5, timestamp=2}]}");
  }

  @Test
  void publicConstructorCopiesArrays() {
    Label[] labels = {new Label("a", "b")};
    Sample[] samples = {new Sample(1, 2)};

    PrometheusTimeSeries ts = new PrometheusTimeSeries("m", labels, samples);
    labels[0] = new Label("x", "y");
    samples[0] = new Sample(3, 4);

    assertThat(ts.getLabels()).containsExactly(new Label("a", "b"));
    assertThat(ts.getSamples()).containsExactly(new Sample(1, 2));
  }

  @Test
  void theArraysItHandsOutAreCopies() {
    PrometheusTimeSeries series =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("a", "1")
            .addSample(1.0, 10)
            .build();
    series.getLabels()[0] = new PrometheusTimeSeries.Label("a", "changed");
    series.getSamples()[0] = new PrometheusTimeSeries.Sample(99.0, 99);
    assertThat(series.getLabels()[0].getValue()).isEqualTo("1");
    assertThat(series.getSamples()[0].getValue()).isEqualTo(1.0);
  }

  @Test
  void javaSerializationRoundTripsAndChecksTheRecord() throws Exception {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("city", "Zürich")
            .addSample(1.5, 2L)
            .build();
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
      out.writeObject(record);
    }
    try (java.io.ObjectInputStream in =
        new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
      PrometheusTimeSeries read = (PrometheusTimeSeries) in.readObject();
      assertThat(read).isEqualTo(record);
      assertThat(read.getLabels()[0].getValue()).isEqualTo("Zürich");
    }
  }
}
