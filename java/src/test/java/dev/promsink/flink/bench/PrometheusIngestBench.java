package dev.promsink.flink.bench;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import dev.promsink.flink.RemoteWriteVersion;
import dev.promsink.flink.testing.PrometheusServer;
import java.util.Locale;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Benchmark 4 of docs/benchmarks.md: the ingest rate into a real Prometheus on this machine (the
 * Debian 2.42, and Prometheus 3 built by scripts/prometheus3.sh with Remote-Write 1.0 and 2.0) with
 * 100,000 series (5 labels), and the CPU spent by the job (sink side) and by Prometheus.
 *
 * <p>Prints one CSV line per run: {@code prometheus,<prometheus>,<remote-write>,<parallelism>,
 * <lanes>,<samples>,<seconds>,<samples/s>,<jvm cpu s>,<prometheus cpu s>,<stored samples>}.
 *
 * <p>Arguments: samples (default 5,000,000), series (default 100,000); system property {@code
 * bench.runs}: comma-separated {@code prometheus:remote-write:parallelism:lanes}, prometheus {@code
 * 2.42} or {@code 3} (needs {@code PROMSINK_PROMETHEUS3}), remote-write {@code 1} or {@code 2},
 * lanes at most (adaptive).
 */
public final class PrometheusIngestBench {
  private PrometheusIngestBench() {}

  public static void main(String[] args) throws Exception {
    long samples = args.length > 0 ? Long.parseLong(args[0]) : 5_000_000L;
    int series = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
    String runs = System.getProperty("bench.runs", "2.42:1:2:1,2.42:1:2:32,3:1:2:32,3:2:2:32");
    for (String run : runs.split(",")) {
      String[] p = run.split(":");
      RemoteWriteVersion version = p[1].equals("2") ? RemoteWriteVersion.V2 : RemoteWriteVersion.V1;
      run(p[0], version, Integer.parseInt(p[2]), Integer.parseInt(p[3]), samples, series);
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

  static void run(
      String prometheusVersion,
      RemoteWriteVersion version,
      int parallelism,
      int lanes,
      long samples,
      int series)
      throws Exception {
    try (PrometheusServer prometheus =
        prometheusVersion.equals("3") ? PrometheusServer.version3() : new PrometheusServer()) {
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
                  .setRemoteWriteVersion(version)
                  .build());
      long jvmBefore = ThroughputBench.processCpuNanos();
      long promBefore = prometheus.cpuNanos();
      long started = System.nanoTime();
      env.execute("prometheus ingest");
      double seconds = (System.nanoTime() - started) / 1e9;
      double jvmCpu = (ThroughputBench.processCpuNanos() - jvmBefore) / 1e9;
      double promCpu = (prometheus.cpuNanos() - promBefore) / 1e9;
      // Less the one sample a fresh PrometheusServer is primed with.
      long stored = appendedSamples(prometheus.get("/metrics")) - 1;
      System.out.printf(
          Locale.ROOT,
          "prometheus,%s,%d,%d,%d,%d,%.2f,%.0f,%.2f,%.2f,%d%n",
          prometheusVersion,
          version == RemoteWriteVersion.V2 ? 2 : 1,
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
