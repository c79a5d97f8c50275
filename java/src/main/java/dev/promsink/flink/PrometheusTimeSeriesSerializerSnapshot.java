package dev.promsink.flink;

import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;

/**
 * Snapshot of {@link PrometheusTimeSeriesSerializer}, written into checkpoints and savepoints. The
 * serializer has no configuration, so the snapshot only records its class; restoring it yields the
 * serializer instance again.
 */
public final class PrometheusTimeSeriesSerializerSnapshot
    extends SimpleTypeSerializerSnapshot<PrometheusTimeSeries> {

  /** Creates the snapshot; also called reflectively by Flink when restoring. */
  public PrometheusTimeSeriesSerializerSnapshot() {
    super(() -> PrometheusTimeSeriesSerializer.INSTANCE);
  }
}
