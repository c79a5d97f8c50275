package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Arrays;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.util.InstantiationUtil;
import org.junit.jupiter.api.Test;

class PrometheusTimeSeriesSerializerTest {

  private static final long STALE_MARKER_BITS = 0x7ff0000000000002L;

  private final PrometheusTimeSeriesSerializer serializer = PrometheusTimeSeriesSerializer.INSTANCE;

  private static byte[] serialize(PrometheusTimeSeries record) throws IOException {
    DataOutputSerializer out = new DataOutputSerializer(64);
    PrometheusTimeSeriesSerializer.INSTANCE.serialize(record, out);
    return out.getCopyOfBuffer();
  }

  private static PrometheusTimeSeries roundTrip(PrometheusTimeSeries record) throws IOException {
    DataInputDeserializer in = new DataInputDeserializer(serialize(record));
    PrometheusTimeSeries result = PrometheusTimeSeriesSerializer.INSTANCE.deserialize(in);
    assertThat(in.available()).isZero();
    return result;
  }

  private static String longValue() {
    StringBuilder sb = new StringBuilder();
    while (sb.length() < 70_001) {
      sb.append("abcdé€😀\u0000xyz");
    }
    return sb.toString();
  }

  @Test
  void roundTripsTypicalRecord() throws IOException {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("http_requests_total")
            .addLabel("job", "api")
            .addLabel("instance", "host-1:9090")
            .addSample(1.5, 1_700_000_000_000L)
            .addSample(-2.25, 1_700_000_001_000L)
            .build();

    assertThat(roundTrip(record)).isEqualTo(record);
  }

  @Test
  void roundTripsNullMetricNameAndEmptyArrays() throws IOException {
    PrometheusTimeSeries record = PrometheusTimeSeries.builder().build();

    PrometheusTimeSeries result = roundTrip(record);

    assertThat(result.getMetricName()).isNull();
    assertThat(result.getLabels()).isEmpty();
    assertThat(result.getSamples()).isEmpty();
  }

  @Test
  void roundTripsEmptyMetricNameDistinctFromNull() throws IOException {
    PrometheusTimeSeries record = PrometheusTimeSeries.builder().withMetricName("").build();

    assertThat(roundTrip(record).getMetricName()).isEqualTo("");
  }

  @Test
  void roundTripsUnicode() throws IOException {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("température_°C")
            .addLabel("ville", "Zürich")
            .addLabel("名前", "値 😀 \u0000 \u07ff \u0800 \uffff")
            .addLabel("", "")
            .build();

    assertThat(roundTrip(record)).isEqualTo(record);
  }

  @Test
  void roundTripsUnpairedSurrogatesExactly() throws IOException {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("a\ud800b")
            .addLabel("x\udc00", "\udbff")
            .addLabel("\ud83d", "\ude00\ud83d")
            .build();

    assertThat(roundTrip(record)).isEqualTo(record);
  }

  @Test
  void roundTripsLabelValueLongerThan64KiB() throws IOException {
    String value = longValue();
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder().withMetricName("m").addLabel("big", value).build();

    PrometheusTimeSeries result = roundTrip(record);

    assertThat(value.length()).isGreaterThan(70_000);
    assertThat(result.getLabels()[0].getValue()).isEqualTo(value);
    assertThat(result).isEqualTo(record);
  }

  @Test
  void roundTripsNanAndStaleMarkerPreservingBits() throws IOException {
    double staleMarker = Double.longBitsToDouble(STALE_MARKER_BITS);
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addSample(Double.NaN, 1L)
            .addSample(staleMarker, 2L)
            .build();

    PrometheusTimeSeries result = roundTrip(record);

    assertThat(Double.doubleToRawLongBits(result.getSamples()[0].getValue()))
        .isEqualTo(Double.doubleToRawLongBits(Double.NaN));
    assertThat(Double.doubleToRawLongBits(result.getSamples()[1].getValue()))
        .isEqualTo(STALE_MARKER_BITS);
    assertThat(result.getSamples()[1].getTimestamp()).isEqualTo(2L);
  }

  @Test
  void roundTripsSpecialValuesAndExtremeTimestamps() throws IOException {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addSample(Double.POSITIVE_INFINITY, Long.MIN_VALUE)
            .addSample(Double.NEGATIVE_INFINITY, Long.MAX_VALUE)
            .addSample(-0.0, 0L)
            .addSample(Double.MIN_VALUE, -1L)
            .addSample(Double.MAX_VALUE, 1L)
            .build();

    PrometheusTimeSeries result = roundTrip(record);

    assertThat(result).isEqualTo(record);
    assertThat(result.getSamples()[0].getTimestamp()).isEqualTo(Long.MIN_VALUE);
    assertThat(result.getSamples()[1].getTimestamp()).isEqualTo(Long.MAX_VALUE);
    assertThat(Double.doubleToRawLongBits(result.getSamples()[2].getValue()))
        .isEqualTo(Double.doubleToRawLongBits(-0.0));
  }

  @Test
  void roundTripsManyLabelsAndSamples() throws IOException {
    PrometheusTimeSeries.Builder builder = PrometheusTimeSeries.builder().withMetricName("m");
    for (int i = 0; i < 300; i++) {
      builder.addLabel("l" + i, "v" + i).addSample(i * 0.5, 1_000L * i);
    }
    PrometheusTimeSeries record = builder.build();

    assertThat(roundTrip(record)).isEqualTo(record);
  }

  @Test
  void roundTripsSeveralRecordsInOneStream() throws IOException {
    PrometheusTimeSeries first =
        PrometheusTimeSeries.builder().withMetricName("a").addLabel("k", "v").build();
    PrometheusTimeSeries second = PrometheusTimeSeries.builder().addSample(1, 2).build();
    DataOutputSerializer out = new DataOutputSerializer(16);
    serializer.serialize(first, out);
    serializer.serialize(second, out);

    DataInputDeserializer in = new DataInputDeserializer(out.getCopyOfBuffer());

    assertThat(serializer.deserialize(in)).isEqualTo(first);
    assertThat(serializer.deserialize(serializer.createInstance(), in)).isEqualTo(second);
    assertThat(in.available()).isZero();
  }

  @Test
  void writesAFlagThenTheBatchEntry() throws IOException {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("a", "é")
            .addSample(1.0, 2L)
            .build();

    assertThat(serialize(record))
        .containsExactly(
            0x81, // an entry follows; a metric name was set
            40, 0, 0, 0, // length of the rest of the entry
            1, 0, 0, 0, // one sample
            1, 0, 0, 0, // one label
            1, 0, 0, 0, 'm', // metric name
            1, 0, 0, 0, 'a', 2, 0, 0, 0, 0xC3, 0xA9, // label a="é"
            0, 0, 0, 0, 0, 0, 0xF0, 0x3F, // 1.0, little-endian
            2, 0, 0, 0, 0, 0, 0, 0); // timestamp 2
  }

  @Test
  void carriesTheSeriesKeyOnceAKeyedStreamComputedIt() throws IOException {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("a", "é")
            .addSample(1.0, 2L)
            .build();
    byte[] unkeyed = serialize(record);
    int key = new PrometheusTimeSeriesLabelsAndMetricNameKeySelector().getKey(record);

    byte[] keyed = serialize(record);

    // Unkeyed, the key is not computed only to be written: the flag and the entry, as before.
    assertThat(unkeyed[0]).isEqualTo((byte) 0x81);
    assertThat(keyed.length).isEqualTo(unkeyed.length + 4);
    assertThat(keyed[0]).isEqualTo((byte) 0x83); // an entry; a metric name; the key follows
    assertThat(Arrays.copyOfRange(keyed, 1, 5))
        .containsExactly((byte) (key >>> 24), (byte) (key >>> 16), (byte) (key >>> 8), (byte) key);
    assertThat(Arrays.copyOfRange(keyed, 5, keyed.length))
        .isEqualTo(Arrays.copyOfRange(unkeyed, 1, unkeyed.length));
    PrometheusTimeSeries read = serializer.deserialize(new DataInputDeserializer(keyed));
    assertThat(read).isEqualTo(record);
    assertThat(read.keyKnown()).isTrue();
    assertThat(read.key()).isEqualTo(key).isEqualTo(SeriesEntry.key(read.entry()));
    assertThat(serializer.deserialize(new DataInputDeserializer(unkeyed)).keyKnown()).isFalse();
    // The key travels on through copies, and a key of 0 is carried as one.
    DataOutputSerializer copied = new DataOutputSerializer(64);
    serializer.copy(new DataInputDeserializer(keyed), copied);
    assertThat(copied.getCopyOfBuffer()).isEqualTo(keyed);
    byte[] zeroKey = keyed.clone();
    Arrays.fill(zeroKey, 1, 5, (byte) 0);
    PrometheusTimeSeries zero = serializer.deserialize(new DataInputDeserializer(zeroKey));
    assertThat(zero.keyKnown()).isTrue();
    assertThat(zero.key()).isZero();
  }

  @Test
  void theWritersStateIsWrittenWithoutTheKey() throws IOException {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder().withMetricName("m").addSample(1.0, 2L).build();
    byte[] unkeyed = serialize(record);
    record.key();
    DataOutputSerializer state = new DataOutputSerializer(64);

    serializer.serializeWithoutKey(record, state);

    assertThat(state.getCopyOfBuffer()).isEqualTo(unkeyed);
  }

  @Test
  void readsTheRecordsOfEarlierBuilds() throws IOException {
    // The field-by-field format of earlier builds (flag 0x80 clear): savepoints taken with them
    // restore.
    byte[] earlier = {
      0x01,
      0x01,
      'm', // flags, metric name
      0x01,
      0x01,
      'a',
      0x02,
      (byte) 0xC3,
      (byte) 0xA9, // one label
      0x01, // one sample
      0x3F,
      (byte) 0xF0,
      0,
      0,
      0,
      0,
      0,
      0, // 1.0, big-endian
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      2 // timestamp 2
    };
    PrometheusTimeSeries expected =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("a", "é")
            .addSample(1.0, 2L)
            .build();
    assertThat(serializer.deserialize(new DataInputDeserializer(earlier))).isEqualTo(expected);
    DataOutputSerializer copied = new DataOutputSerializer(64);
    serializer.copy(new DataInputDeserializer(earlier), copied);
    assertThat(copied.getCopyOfBuffer()).isEqualTo(serialize(expected)); // copied as this build's
  }

  @Test
  void anEntryWhoseCountsDoNotAddUpIsACorruptRecord() throws IOException {
    byte[] good =
        serialize(
            PrometheusTimeSeries.builder()
                .withMetricName("m")
                .addLabel("a", "b")
                .addSample(1, 2)
                .build());
    byte[] moreLabels = good.clone();
    moreLabels[9] = 2; // two labels said, one there
    assertThatThrownBy(() -> serializer.deserialize(new DataInputDeserializer(moreLabels)))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "Corrupt PrometheusTimeSeries: 2 labels and 1 samples do not make an entry of 43 bytes");
    byte[] moreSamples = good.clone();
    moreSamples[5] = 3; // three samples said, one there
    assertThatThrownBy(() -> serializer.deserialize(new DataInputDeserializer(moreSamples)))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "Corrupt PrometheusTimeSeries: 1 labels and 3 samples do not make an entry of 43 bytes");
    byte[] hugeEntry = {(byte) 0x81, -1, -1, -1, 0x7f};
    assertThatThrownBy(() -> serializer.deserialize(new DataInputDeserializer(hugeEntry)))
        .isInstanceOf(IOException.class)
        .hasMessage("Corrupt PrometheusTimeSeries: an entry of 2147483647 bytes");
  }

  @Test
  void copiesBetweenViews() throws IOException {
    PrometheusTimeSeries record =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("big", longValue())
            .addLabel("k", "v")
            .addSample(Double.longBitsToDouble(STALE_MARKER_BITS), Long.MAX_VALUE)
            .addSample(3.0, 4L)
            .build();
    PrometheusTimeSeries noName = PrometheusTimeSeries.builder().addSample(1, 1).build();
    DataOutputSerializer original = new DataOutputSerializer(64);
    serializer.serialize(record, original);
    serializer.serialize(noName, original);
    DataInputDeserializer source = new DataInputDeserializer(original.getCopyOfBuffer());
    DataOutputSerializer target = new DataOutputSerializer(64);

    serializer.copy(source, target);
    serializer.copy(source, target);

    assertThat(source.available()).isZero();
    assertThat(target.getCopyOfBuffer()).isEqualTo(original.getCopyOfBuffer());
    DataInputDeserializer copied = new DataInputDeserializer(target.getCopyOfBuffer());
    assertThat(serializer.deserialize(copied)).isEqualTo(record);
    assertThat(serializer.deserialize(copied)).isEqualTo(noName);
  }

  @Test
  void rejectsUnknownFlags() {
    // 0x02 (a key follows) only with 0x80 (an entry follows): earlier builds' fields have none.
    for (int flags : new int[] {0x02, 0x03, 0x04, 0x40, 0x84}) {
      DataInputDeserializer in = new DataInputDeserializer(new byte[] {(byte) flags, 0, 0});

      assertThatThrownBy(() -> serializer.deserialize(in))
          .isInstanceOf(IOException.class)
          .hasMessage(
              "Corrupt PrometheusTimeSeries: unknown flags 0x" + Integer.toHexString(flags));
    }
  }

  @Test
  void corruptCountsEndInAnExceptionNotAHugeAllocation() {
    // flags 0, then 2^31 - 1 labels (varint ff ff ff ff 07) and nothing after: the label array
    // is not allocated for the count, so reading ends at the end of the input.
    byte[] hugeLabelCount = {0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07};
    assertThatThrownBy(() -> serializer.deserialize(new DataInputDeserializer(hugeLabelCount)))
        .isInstanceOf(java.io.EOFException.class);
    // No labels, then 2^31 - 1 samples and one sample's worth of bytes.
    byte[] hugeSampleCount = Arrays.copyOf(new byte[] {0, 0, -1, -1, -1, -1, 0x07}, 7 + 16);
    assertThatThrownBy(() -> serializer.deserialize(new DataInputDeserializer(hugeSampleCount)))
        .isInstanceOf(java.io.EOFException.class);
    // A metric name said to be 2 GiB long.
    byte[] hugeString = {1, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07};
    assertThatThrownBy(() -> serializer.deserialize(new DataInputDeserializer(hugeString)))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "Corrupt PrometheusTimeSeries: a string of 2147483647 bytes (at most 16777216)");
  }

  @Test
  void inMemoryCopyReturnsSameImmutableInstance() {
    PrometheusTimeSeries record = PrometheusTimeSeries.builder().withMetricName("m").build();

    assertThat(serializer.copy(record)).isSameAs(record);
    assertThat(serializer.copy(record, serializer.createInstance())).isSameAs(record);
    assertThat(serializer.isImmutableType()).isTrue();
    assertThat(serializer.getLength()).isEqualTo(-1);
    assertThat(serializer.duplicate()).isSameAs(serializer);
  }

  @Test
  void createInstanceIsEmptyRecord() {
    PrometheusTimeSeries instance = serializer.createInstance();

    assertThat(instance.getMetricName()).isNull();
    assertThat(instance.getLabels()).isEmpty();
    assertThat(instance.getSamples()).isEmpty();
  }

  @Test
  void snapshotRoundTripIsCompatibleAsIs() throws IOException {
    DataOutputSerializer out = new DataOutputSerializer(64);
    TypeSerializerSnapshot.writeVersionedSnapshot(out, serializer.snapshotConfiguration());

    DataInputDeserializer in = new DataInputDeserializer(out.getCopyOfBuffer());
    TypeSerializerSnapshot<PrometheusTimeSeries> restored =
        TypeSerializerSnapshot.readVersionedSnapshot(
            in, PrometheusTimeSeriesSerializerTest.class.getClassLoader());

    assertThat(in.available()).isZero();
    assertThat(restored).isInstanceOf(PrometheusTimeSeriesSerializerSnapshot.class);
    assertThat(restored.restoreSerializer()).isEqualTo(serializer);
    TypeSerializerSchemaCompatibility<PrometheusTimeSeries> compatibility =
        serializer.snapshotConfiguration().resolveSchemaCompatibility(restored);
    assertThat(compatibility.isCompatibleAsIs()).isTrue();
  }

  @Test
  void javaSerializationKeepsTheSingleton() throws Exception {
    PrometheusTimeSeriesSerializer cloned = InstantiationUtil.clone(serializer);

    assertThat(cloned).isSameAs(PrometheusTimeSeriesSerializer.INSTANCE);
  }

  @Test
  void typeInformationUsesOwnSerializerNotKryo() {
    TypeInformation<PrometheusTimeSeries> typeInfo = TypeInformation.of(PrometheusTimeSeries.class);
    SerializerConfigImpl config = new SerializerConfigImpl();
    config.setGenericTypes(false);

    TypeSerializer<PrometheusTimeSeries> typeSerializer = typeInfo.createSerializer(config);

    assertThat(typeInfo).isInstanceOf(PrometheusTimeSeriesTypeInfo.class);
    assertThat(typeSerializer).isInstanceOf(PrometheusTimeSeriesSerializer.class);
  }

  @Test
  void typeInformationProperties() throws Exception {
    PrometheusTimeSeriesTypeInfo typeInfo = new PrometheusTimeSeriesTypeInfo();

    assertThat(typeInfo.isBasicType()).isFalse();
    assertThat(typeInfo.isTupleType()).isFalse();
    assertThat(typeInfo.isKeyType()).isFalse();
    assertThat(typeInfo.getArity()).isEqualTo(1);
    assertThat(typeInfo.getTotalFields()).isEqualTo(1);
    assertThat(typeInfo.getTypeClass()).isEqualTo(PrometheusTimeSeries.class);
    assertThat(typeInfo).isEqualTo(new PrometheusTimeSeriesTypeInfo());
    assertThat(typeInfo.hashCode()).isEqualTo(new PrometheusTimeSeriesTypeInfo().hashCode());
    assertThat(typeInfo.canEqual(new PrometheusTimeSeriesTypeInfo())).isTrue();
    assertThat(typeInfo).isNotEqualTo(TypeInformation.of(String.class));
    assertThat(typeInfo.toString()).isEqualTo("PrometheusTimeSeriesTypeInfo");
    assertThat(InstantiationUtil.clone(typeInfo)).isEqualTo(typeInfo);
  }
}
