package dev.promsink.flink.testing;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;

/** Test data, the MiniCluster and the job shape shared by the sink's end-to-end tests. */
public final class SinkJobs {
  private SinkJobs() {}

  /** A MiniCluster with one TaskManager of two slots, reporting metrics to {@code reporter}. */
  public static MiniClusterExtension miniCluster(InMemoryReporter reporter) {
    Configuration config =
        reporter == null ? new Configuration() : reporter.addToConfiguration(new Configuration());
    return new MiniClusterExtension(
        new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(2)
            .setConfiguration(config)
            .build());
  }

  /**
   * {@code series} devices x {@code samples} samples, one sample per record, every series' samples
   * in time order across the stream; value {@code device + sample / 4}.
   */
  public static List<PrometheusTimeSeries> fleet(
      String metric, int series, int samples, long baseMs) {
    List<PrometheusTimeSeries> records = new ArrayList<>();
    for (int j = 0; j < samples; j++) {
      for (int i = 0; i < series; i++) {
        records.add(
            PrometheusTimeSeries.builder()
                .withMetricName(metric)
                .addLabel("device", "d" + i)
                .addLabel("fleet", "f" + (i % 10))
                .addLabel("Region", "r" + (i % 3))
                .addSample(i + j / 4.0, baseMs + j * 1000L)
                .build());
      }
    }
    return records;
  }

  /** The samples {@code records} hold, keyed as the receivers key them. */
  public static Samples expected(List<PrometheusTimeSeries> records) {
    Samples s = new Samples();
    for (PrometheusTimeSeries r : records) {
      Map<String, String> labels = new LinkedHashMap<>();
      labels.put("__name__", r.getMetricName());
      for (PrometheusTimeSeries.Label l : r.getLabels()) {
        labels.put(l.getName(), l.getValue());
      }
      for (PrometheusTimeSeries.Sample x : r.getSamples()) {
        s.add(labels, x.getTimestamp(), x.getValue());
      }
    }
    return s;
  }

  /** A time 30 minutes ago on a whole second: inside Prometheus's head block, never in future. */
  public static long baseMs() {
    return (System.currentTimeMillis() - 30 * 60_000L) / 1000 * 1000;
  }

  /** Runs source (parallelism 1) -> keyBy -> sink (parallelism {@code parallelism}). */
  public static JobExecutionResult run(
      List<PrometheusTimeSeries> records, PrometheusSink sink, int parallelism) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(parallelism);
    env.fromData(records)
        .setParallelism(1)
        .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
        .sinkTo(sink);
    return env.execute("promsink test job");
  }
}
