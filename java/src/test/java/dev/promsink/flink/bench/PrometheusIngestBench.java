package dev.promsink.flink.bench;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import dev.promsink.flink.testing.PrometheusServer;
import java.util.Locale;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Benchmark 4 of docs/benchmarks.md: the ingest rate into the Debian Prometheus on this machine
 * with 100,000 series (5 labels), and the CPU spent by the job (sink side) and by Prometheus.
 *
 * <p>Prints one CSV line per run: {@code prometheus,<parallelism>,<lanes>,<samples>,<seconds>,
 * <samples/s>,<jvm cpu s>,<prometheus cpu s>,<stored samples>}.
 *
 * <p>Arguments: samples (default 5,000,000), series (default 100,000); system property {@code
 * bench.runs}: comma-separated {@code parallelism:lanes}.
 */
public final class PrometheusIngestBench {
  private PrometheusIngestBench() {}

  public static void main(String[] args) throws Exception {
    long samples = args.length > 0 ? Long.parseLong(args[0]) : 5_000_000L;
    int series = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
    for (String run : System.getProperty("bench.runs", "2:1,2:4,2:12").split(",")) {
      String[] p = run.split(":");
      run(Integer.parseInt(p[0]), Integer.parseInt(p[1]), samples, series);
    }
  }

  /** Sum of prometheus_tsdb_head_samples_appended_total in Prometheus's own metrics text. */
  static long appendedSamples(String metrics) {
    double sum = 0;
    for (String line : metrics.split("\n")) {
      if (line.startsWith("prometheus_tsdb_head_samples_appended_total")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return (long) sum;
  }

  static void run(int parallelism, int lanes, long samples, int series) throws Exception {
    try (PrometheusServer prometheus = new PrometheusServer()) {
      StreamExecutionEnvironment env =
          StreamExecutionEnvironment.createLocalEnvironment(parallelism, new Configuration());
      // Samples one second apart per series, ending now: inside the head block.
      long base = System.currentTimeMillis() - (samples / series + 1) * 1000L;
      env.fromSequence(0, samples - 1)
          .setParallelism(1) // one generator keeps every series in time order
          .map(n -> ThroughputBench.record("bench_ingest", n, series, base, 1000))
          .setParallelism(1)
          .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(
              PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(prometheus.writeUrl())
                  .setSendingLanes(lanes)
                  .build());
      long jvmBefore = ThroughputBench.processCpuNanos();
      long promBefore = prometheus.cpuNanos();
      long started = System.nanoTime();
      env.execute("prometheus ingest");
      double seconds = (System.nanoTime() - started) / 1e9;
      double jvmCpu = (ThroughputBench.processCpuNanos() - jvmBefore) / 1e9;
      double promCpu = (prometheus.cpuNanos() - promBefore) / 1e9;
      long stored = appendedSamples(prometheus.get("/metrics"));
      System.out.printf(
          Locale.ROOT,
          "prometheus,%d,%d,%d,%.2f,%.0f,%.2f,%.2f,%d%n",
          parallelism,
          lanes,
          samples,
          seconds,
          samples / seconds,
          jvmCpu,
          promCpu,
          stored);
    }
  }
}
