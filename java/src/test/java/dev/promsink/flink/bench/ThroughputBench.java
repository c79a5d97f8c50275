package dev.promsink.flink.bench;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import dev.promsink.flink.testing.FaultReceiver;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Locale;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * Benchmark 2 of docs/benchmarks.md, end-to-end job throughput: a MiniCluster job source -> keyBy
 * -> sink with W1 data (distinct series of a metric name and 5 labels, one sample per record), into
 * the test receiver in count-only mode (it reads and counts request bytes, little CPU), against the
 * same job with a discarding sink (the ceiling).
 *
 * <p>Prints one CSV line per run: {@code throughput,<sink>,<parallelism>,<lanes>,<samples>,
 * <seconds>,<samples/s>,<jvm cpu s per million>,<receiver cpu s per million>,<peak native bytes of
 * the sink's library>,<fixed|adaptive>,<requests>}.
 *
 * <p>Arguments: samples (default 10,000,000), distinct series (default 1,000,000); system property
 * {@code bench.runs}: comma-separated {@code sink:parallelism:lanes} with sink {@code discard} or
 * {@code promsink}, lanes adaptive (the builder's default) or, with a trailing {@code f}, fixed.
 */
public final class ThroughputBench {
  private ThroughputBench() {}

  public static void main(String[] args) throws Exception {
    long samples = args.length > 0 ? Long.parseLong(args[0]) : 10_000_000L;
    int series = args.length > 1 ? Integer.parseInt(args[1]) : 1_000_000;
    String runs =
        System.getProperty(
            "bench.runs",
            "discard:1:0,promsink:1:1,promsink:1:12,promsink:1:12f,"
                + "discard:2:0,promsink:2:1,promsink:2:12,promsink:2:12f");
    // Warm-up: JIT-compile the pipeline before anything is measured.
    run("promsink", 1, 4, true, Math.min(samples, 2_000_000), series, false);
    for (String run : runs.split(",")) {
      String[] p = run.split(":");
      boolean fixed = p[2].endsWith("f");
      int lanes = Integer.parseInt(fixed ? p[2].substring(0, p[2].length() - 1) : p[2]);
      run(p[0], Integer.parseInt(p[1]), lanes, !fixed, samples, series, true);
    }
  }

  /** W1: one of {@code series} distinct series, 5 labels, one sample. */
  static PrometheusTimeSeries record(long n, int series, long base) {
    return record("bench_w1", n, series, base, 1);
  }

  /**
   * Record {@code n}: series {@code n % series} of {@code metric} with 5 labels, one sample at
   * {@code base + (n / series) * stepMs}.
   */
  static PrometheusTimeSeries record(String metric, long n, int series, long base, long stepMs) {
    long s = n % series;
    return PrometheusTimeSeries.builder()
        .withMetricName(metric)
        .addLabel("device", "dev-" + s)
        .addLabel("fleet", "fleet-" + (s % 100))
        .addLabel("model", "model-" + (s % 7))
        .addLabel("region", "region-" + (s % 5))
        .addLabel("firmware", "fw-1." + (s % 13))
        .addSample(n * 0.5, base + n / series * stepMs)
        .build();
  }

  /**
   * The records of the comparison with Apache's connector (scripts/bench.sh), in promsink's record
   * type; {@code ApacheComparisonBench} (bench sources) builds the same data in Apache's record
   * type with the same statements. Index {@code n} runs over {@code 0 .. samples / perRecord - 1}.
   *
   * <ul>
   *   <li>W1: one of 1,000,000 distinct series (metric and 5 labels, as {@link #record(long, int,
   *       long)}), one sample per record.
   *   <li>W2: one of 10,000 series of the same shape, 10 samples per record.
   * </ul>
   */
  public static PrometheusTimeSeries workloadRecord(String workload, long n, long base) {
    boolean w1 = workload.equals("W1");
    int series = w1 ? W1_SERIES : W2_SERIES;
    int perRecord = w1 ? 1 : W2_SAMPLES_PER_RECORD;
    long s = n % series;
    PrometheusTimeSeries.Builder b =
        PrometheusTimeSeries.builder()
            .withMetricName(w1 ? "bench_w1" : "bench_w2")
            .addLabel("device", "dev-" + s)
            .addLabel("fleet", "fleet-" + (s % 100))
            .addLabel("model", "model-" + (s % 7))
            .addLabel("region", "region-" + (s % 5))
            .addLabel("firmware", "fw-1." + (s % 13));
    long first = n / series * perRecord;
    for (int j = 0; j < perRecord; j++) {
      b.addSample(n * 0.5 + j, base + first + j);
    }
    return b.build();
  }

  /** Series of W1 and W2, samples per record of W2 (see {@link #workloadRecord}). */
  public static final int W1_SERIES = 1_000_000;

  public static final int W2_SERIES = 10_000;
  public static final int W2_SAMPLES_PER_RECORD = 10;

  static void run(
      String sink,
      int parallelism,
      int lanes,
      boolean adaptive,
      long samples,
      int series,
      boolean print)
      throws Exception {
    FaultReceiver receiver = null;
    try {
      StreamExecutionEnvironment env =
          StreamExecutionEnvironment.createLocalEnvironment(parallelism, new Configuration());
      long base = System.currentTimeMillis() - 3_600_000L;
      DataStream<PrometheusTimeSeries> stream =
          env.fromSequence(0, samples - 1)
              .map(n -> record(n, series, base))
              .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector());
      Sink<PrometheusTimeSeries> target;
      if (sink.equals("discard")) {
        target = new DiscardingSink<>();
      } else {
        receiver = FaultReceiver.start("", "204", "--count-only");
        target =
            PrometheusSink.builder()
                .setPrometheusRemoteWriteUrl(receiver.writeUrl())
                .setSendingLanes(lanes)
                .setAdaptiveSendingLanes(adaptive)
                .build();
      }
      stream.sinkTo(target);
      dev.promsink.flink.internal.jni.NativeClient.nativeMemory(true);
      long cpuBefore = processCpuNanos();
      long receiverBefore = receiver == null ? 0 : receiver.cpuNanos();
      long started = System.nanoTime();
      JobExecutionResult result = env.execute("throughput " + sink);
      double seconds = (System.nanoTime() - started) / 1e9;
      long nativePeak = dev.promsink.flink.internal.jni.NativeClient.nativeMemory(false)[1];
      double jvmCpu = (processCpuNanos() - cpuBefore) / 1e9;
      double receiverCpu = receiver == null ? 0 : (receiver.cpuNanos() - receiverBefore) / 1e9;
      long requests = 0;
      if (receiver != null) {
        long accepted = receiver.stats().get("accepted_requests").asLong();
        requests = accepted;
        if (accepted == 0) {
          throw new IllegalStateException("nothing arrived");
        }
      }
      double millions = samples / 1e6;
      if (!print) {
        return;
      }
      System.out.printf(
          Locale.ROOT,
          "throughput,%s,%d,%d,%d,%.2f,%.0f,%.3f,%.3f,%d,%s,%d%n",
          sink,
          parallelism,
          lanes,
          samples,
          seconds,
          samples / seconds,
          jvmCpu / millions,
          receiverCpu / millions,
          sink.equals("discard") ? 0 : nativePeak,
          adaptive ? "adaptive" : "fixed",
          requests);
      result.getNetRuntime();
    } finally {
      if (receiver != null) {
        receiver.close();
      }
    }
  }

  public static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** CPU time (user + system) of a process, from /proc. */
  public static long cpuNanosOf(long pid) {
    return cpuNanosOfStat(Paths.get("/proc/" + pid + "/stat"));
  }

  /**
   * CPU time (user + system) of this JVM's JIT compiler threads (HotSpot's "C1 CompilerThread" and
   * "C2 CompilerThread"), from /proc. Run with {@code -XX:-UseDynamicNumberOfCompilerThreads} so
   * that no compiler thread exits, and its time with it, between two readings.
   */
  public static long jitCpuNanos() {
    long total = 0;
    try (java.util.stream.Stream<java.nio.file.Path> tasks =
        Files.list(Paths.get("/proc/self/task"))) {
      for (java.nio.file.Path task : (Iterable<java.nio.file.Path>) tasks::iterator) {
        try {
          String comm = Files.readString(task.resolve("comm"));
          if (comm.startsWith("C1 Compiler") || comm.startsWith("C2 Compiler")) {
            total += cpuNanosOfStat(task.resolve("stat"));
          }
        } catch (java.io.IOException gone) {
          // The thread ended meanwhile.
        }
      }
    } catch (java.io.IOException e) {
      return 0;
    }
    return total;
  }

  private static long cpuNanosOfStat(java.nio.file.Path path) {
    try {
      String stat = Files.readString(path);
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks * 10_000_000L; // USER_HZ = 100 on Linux
    } catch (Exception e) {
      return 0;
    }
  }
}
