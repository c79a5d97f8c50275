package dev.promsink.flink.bench;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import dev.promsink.flink.internal.jni.NativeClient;
import dev.promsink.flink.testing.FaultReceiver;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * promsink against Apache's connector ({@code org.apache.flink:flink-connector-prometheus:1.0.0},
 * the jar of shared/baselines, built for Flink 1.20), side by side in one JVM: the same job (source
 * -> map to records -> keyBy -> sink) on the same data, each with its own record type and key
 * selector, into the same count-only receiver of {@code tests/receiver}.
 *
 * <p>Kinds: {@code promsink} (the builder's defaults), {@code apache} (Apache's builder defaults:
 * batches of 500 samples, one request in flight), {@code discard} and {@code discard-apache} (a
 * {@link DiscardingSink} fed promsink's or Apache's record type, keyed by that type's selector: the
 * same job without a sink's work, so "sink only" = kind - its discarding twin).
 *
 * <p>Every measured run is preceded by {@code bench.startupRuns} runs of the same job with {@code
 * bench.startupSamples} samples: the JVM CPU and time of MiniCluster start-up, job deployment and
 * shutdown, to subtract. Prints one CSV line per run: {@code compare,<workload>,<parallelism>,
 * <kind>,<samples>,<seconds>,<jvm cpu s>,<start-up samples>,<start-up seconds (median)>,<start-up
 * jvm cpu s (median)>,<receiver cpu s>,<receiver requests>,<sink counter samples out>,<sink counter
 * write requests out>,<peak native bytes>,<jit cpu s>,<start-up jit cpu s (median)>}; raw figures,
 * scripts/bench_report.py derives the per-million ones. "jit cpu s": CPU of the JIT compiler
 * threads during the run, part of "jvm cpu s".
 *
 * <p>Arguments: {@code compare <samples> <repeat index>} (the index only rotates the order of the
 * kinds, so no kind always runs first), or {@code distant <samples> <series> <delay ms>}: Apache's
 * connector against a receiver answering after {@code delay} ms, in the CSV format of {@link
 * DistantBackendBench} with mode {@code apache}. System properties: {@code bench.workloads}
 * (default {@code W1,W2}), {@code bench.parallelism} ({@code 1,2}), {@code bench.kinds} ({@code
 * discard,promsink,discard-apache,apache}), {@code bench.startupSamples} (1000), {@code
 * bench.startupRuns} (3), {@code bench.warmup} (samples per warm-up run, 1,000,000; 0: none),
 * {@code bench.jfr} (a file name, {@code {}} replaced by workload, parallelism and kind: a JFR
 * recording with the profile settings of each measured run, start-up runs excluded), {@code
 * bench.perfctl} and {@code bench.perfack} (the control and acknowledgement fifos of {@code perf
 * record --control}: perf is enabled for the measured runs only).
 */
public final class ApacheComparisonBench {
  private ApacheComparisonBench() {}

  static final String APACHE = "apache";
  static final String DISCARD_APACHE = "discard-apache";

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("distant")) {
      long samples = args.length > 1 ? Long.parseLong(args[1]) : 30_000;
      int series = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
      int delay = args.length > 3 ? Integer.parseInt(args[3]) : 50;
      for (String scenario : new String[] {"steady", "throttled"}) {
        distant(scenario, samples, series, delay);
      }
      return;
    }
    long samples = args.length > 1 ? Long.parseLong(args[1]) : 10_000_000L;
    int repeat = args.length > 2 ? Integer.parseInt(args[2]) : 1;
    List<String> workloads = list("bench.workloads", "W1,W2");
    List<String> parallelisms = list("bench.parallelism", "1,2");
    List<String> kinds = list("bench.kinds", "discard,promsink,discard-apache,apache");
    long startupSamples = Long.getLong("bench.startupSamples", 1000);
    int startupRuns = Integer.getInteger("bench.startupRuns", 3);
    long warmup = Long.getLong("bench.warmup", 1_000_000);
    checkSameData();

    // Warm-up: JIT-compile every kind's pipeline on both workloads before anything is measured.
    if (warmup > 0) {
      for (String workload : workloads) {
        for (String kind : kinds) {
          run(workload, 2, kind, warmup);
        }
      }
    }
    for (String workload : workloads) {
      for (String par : parallelisms) {
        int parallelism = Integer.parseInt(par);
        // Rotate the order of the kinds from one repeat to the next.
        List<String> order = new ArrayList<>(kinds);
        java.util.Collections.rotate(order, repeat - 1);
        for (String kind : order) {
          double[] startSeconds = new double[startupRuns];
          double[] startCpu = new double[startupRuns];
          double[] startJit = new double[startupRuns];
          for (int i = 0; i < startupRuns; i++) {
            Result s = run(workload, parallelism, kind, startupSamples);
            startSeconds[i] = s.seconds;
            startCpu[i] = s.jvmCpu;
            startJit[i] = s.jitCpu;
          }
          // Optionally a JFR recording (profile settings) of the measured run alone.
          String jfr = System.getProperty("bench.jfr");
          jdk.jfr.Recording recording = null;
          if (jfr != null) {
            recording = new jdk.jfr.Recording(jdk.jfr.Configuration.getConfiguration("profile"));
            recording.start();
          }
          perfControl("enable");
          Result r = run(workload, parallelism, kind, samples);
          perfControl("disable");
          if (recording != null) {
            recording.stop();
            recording.dump(
                java.nio.file.Paths.get(
                    jfr.replace("{}", workload + "-p" + parallelism + "-" + kind)));
            recording.close();
          }
          System.out.printf(
              Locale.ROOT,
              "compare,%s,%d,%s,%d,%.3f,%.3f,%d,%.3f,%.3f,%.3f,%d,%d,%d,%d,%.3f,%.3f%n",
              workload,
              parallelism,
              kind,
              samples,
              r.seconds,
              r.jvmCpu,
              startupSamples,
              median(startSeconds),
              median(startCpu),
              r.receiverCpu,
              r.receiverRequests,
              r.counterSamples,
              r.counterRequests,
              r.nativePeak,
              r.jitCpu,
              median(startJit));
        }
      }
    }
  }

  /**
   * Sends {@code command} to {@code perf record --control fifo:PATH,ACK -D -1} when property {@code
   * bench.perfctl} names that fifo (and {@code bench.perfack} its acknowledgement fifo), so perf
   * samples the measured runs only.
   */
  static void perfControl(String command) throws java.io.IOException {
    String ctl = System.getProperty("bench.perfctl");
    if (ctl == null) {
      return;
    }
    java.nio.file.Files.write(
        java.nio.file.Paths.get(ctl),
        (command + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    if (command.equals("enable")) {
      // The pid, for the perf map file of -XX:+DumpPerfMapAtExit (/tmp/perf-<pid>.map).
      java.nio.file.Files.write(
          java.nio.file.Paths.get(ctl + ".pid"),
          String.valueOf(ProcessHandle.current().pid())
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
    String ack = System.getProperty("bench.perfack");
    if (ack != null) {
      try (java.io.InputStream in =
          java.nio.file.Files.newInputStream(java.nio.file.Paths.get(ack))) {
        in.read(new byte[5]);
      }
    }
  }

  static List<String> list(String property, String defaults) {
    return Arrays.asList(System.getProperty(property, defaults).split(","));
  }

  static double median(double[] values) {
    if (values.length == 0) {
      return 0;
    }
    double[] v = values.clone();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  /**
   * promsink's sink from {@code b}, with the builder's defaults unless a property says otherwise:
   * {@code bench.lanes} (fixed lanes, not adaptive), {@code bench.batch} (samples per batch) and
   * {@code bench.linger} (ms), for runs outside scripts/bench.sh.
   */
  static Sink<PrometheusTimeSeries> tuned(dev.promsink.flink.PrometheusSinkBuilder b) {
    String lanes = System.getProperty("bench.lanes");
    if (lanes != null) {
      b.setSendingLanes(Integer.parseInt(lanes)).setAdaptiveSendingLanes(false);
    }
    String batch = System.getProperty("bench.batch");
    if (batch != null) {
      b.setMaxBatchSizeInSamples(Integer.parseInt(batch))
          .setMaxBufferedRequests(Math.max(1000, 4 * Integer.parseInt(batch)));
    }
    String linger = System.getProperty("bench.linger");
    if (linger != null) {
      b.setRequestLingerMs(Long.parseLong(linger));
    }
    return b.build();
  }

  /** Figures of one run. */
  static final class Result {
    double seconds;
    double jvmCpu;
    double jitCpu;
    double receiverCpu;
    long receiverRequests;
    long counterSamples;
    long counterRequests;
    long nativePeak;
  }

  /**
   * Apache's record of workload {@code workload}, index {@code n}: the statements of {@link
   * ThroughputBench#workloadRecord}, with Apache's builder. {@link #checkSameData} compares both.
   */
  static org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries apacheRecord(
      String workload, long n, long base) {
    boolean w1 = workload.equals("W1");
    int series = w1 ? ThroughputBench.W1_SERIES : ThroughputBench.W2_SERIES;
    int perRecord = w1 ? 1 : ThroughputBench.W2_SAMPLES_PER_RECORD;
    long s = n % series;
    org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.Builder b =
        org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.builder()
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

  /** Both record types carry the same metric, labels and samples for the same index. */
  static void checkSameData() {
    for (String workload : new String[] {"W1", "W2"}) {
      for (long n : new long[] {0, 1, 12_345, 1_234_567, 9_999_999}) {
        PrometheusTimeSeries ours = ThroughputBench.workloadRecord(workload, n, 1000);
        org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries theirs =
            apacheRecord(workload, n, 1000);
        StringBuilder a = new StringBuilder(ours.getMetricName());
        for (PrometheusTimeSeries.Label l : ours.getLabels()) {
          a.append(',').append(l.getName()).append('=').append(l.getValue());
        }
        for (PrometheusTimeSeries.Sample s : ours.getSamples()) {
          a.append(',').append(s.getValue()).append('@').append(s.getTimestamp());
        }
        StringBuilder b = new StringBuilder(theirs.getMetricName());
        for (org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.Label l :
            theirs.getLabels()) {
          b.append(',').append(l.getName()).append('=').append(l.getValue());
        }
        for (org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.Sample s :
            theirs.getSamples()) {
          b.append(',').append(s.getValue()).append('@').append(s.getTimestamp());
        }
        if (!a.toString().equals(b.toString())) {
          throw new IllegalStateException("not the same data: " + a + " vs " + b);
        }
      }
    }
  }

  static int perRecord(String workload) {
    return workload.equals("W1") ? 1 : ThroughputBench.W2_SAMPLES_PER_RECORD;
  }

  /** One job of {@code samples} samples of {@code workload}, into a sink of {@code kind}. */
  static Result run(String workload, int parallelism, String kind, long samples) throws Exception {
    boolean apacheType = kind.equals(APACHE) || kind.equals(DISCARD_APACHE);
    boolean discard = kind.startsWith("discard");
    FaultReceiver receiver = discard ? null : FaultReceiver.start("", "204", "--count-only");
    try {
      StreamExecutionEnvironment env =
          StreamExecutionEnvironment.createLocalEnvironment(
              parallelism, CounterCapture.configure(new Configuration()));
      long base = System.currentTimeMillis() - 3_600_000L;
      long records = samples / perRecord(workload);
      if (apacheType) {
        KeyedStream<org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries, Integer>
            stream =
                env.fromSequence(0, records - 1)
                    .map(n -> apacheRecord(workload, n, base))
                    .keyBy(
                        new org.apache.flink.connector.prometheus.sink
                            .PrometheusTimeSeriesLabelsAndMetricNameKeySelector());
        Sink<org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries> sink =
            discard
                ? new DiscardingSink<>()
                : org.apache.flink.connector.prometheus.sink.PrometheusSink.builder()
                    .setPrometheusRemoteWriteUrl(receiver.writeUrl())
                    .build();
        stream.sinkTo(sink);
      } else {
        KeyedStream<PrometheusTimeSeries, ?> stream =
            env.fromSequence(0, records - 1)
                .map(n -> ThroughputBench.workloadRecord(workload, n, base))
                .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector());
        Sink<PrometheusTimeSeries> sink =
            discard
                ? new DiscardingSink<>()
                : tuned(PrometheusSink.builder().setPrometheusRemoteWriteUrl(receiver.writeUrl()));
        stream.sinkTo(sink);
      }
      NativeClient.nativeMemory(true);
      long cpuBefore = ThroughputBench.processCpuNanos();
      long jitBefore = ThroughputBench.jitCpuNanos();
      long receiverBefore = receiver == null ? 0 : receiver.cpuNanos();
      long started = System.nanoTime();
      JobExecutionResult job = env.execute(kind + " " + workload + " p" + parallelism);
      Result r = new Result();
      r.seconds = (System.nanoTime() - started) / 1e9;
      r.jvmCpu = (ThroughputBench.processCpuNanos() - cpuBefore) / 1e9;
      r.jitCpu = (ThroughputBench.jitCpuNanos() - jitBefore) / 1e9;
      r.nativePeak = discard || apacheType ? 0 : NativeClient.nativeMemory(false)[1];
      if (receiver != null) {
        r.receiverCpu = (receiver.cpuNanos() - receiverBefore) / 1e9;
        r.receiverRequests = receiver.stats().get("accepted_requests").asLong();
        r.counterSamples = CounterCapture.sum("numSamplesOut");
        r.counterRequests = CounterCapture.sum("numWriteRequestsOut");
        if (r.receiverRequests == 0) {
          throw new IllegalStateException(kind + ": nothing arrived");
        }
        if (r.counterSamples != records * perRecord(workload)) {
          throw new IllegalStateException(
              kind + ": " + r.counterSamples + " samples out of " + samples);
        }
      }
      return r;
    } finally {
      if (receiver != null) {
        receiver.close();
      }
    }
  }

  /**
   * Apache's connector against the distant receiver: the job of {@link DistantBackendBench} with
   * Apache's record type, key selector and builder defaults, one subtask.
   */
  static void distant(String scenario, long samples, int series, int delay) throws Exception {
    try (FaultReceiver receiver =
        FaultReceiver.start(DistantBackendBench.script(scenario, delay), "204:delay=" + delay)) {
      StreamExecutionEnvironment env =
          StreamExecutionEnvironment.createLocalEnvironment(1, new Configuration());
      long base = System.currentTimeMillis() - 3_600_000L;
      env.fromSequence(0, samples - 1)
          .map(
              n ->
                  org.apache.flink.connector.prometheus.sink.PrometheusTimeSeries.builder()
                      .withMetricName("bench_distant")
                      .addLabel("device", "d" + (n % series))
                      .addLabel("fleet", "f" + (n % series % 50))
                      .addSample(n, base + n / series)
                      .build())
          .keyBy(
              new org.apache.flink.connector.prometheus.sink
                  .PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(
              org.apache.flink.connector.prometheus.sink.PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(receiver.writeUrl())
                  .build());
      env.execute("distant backend apache " + scenario);
      DistantBackendBench.report(receiver, scenario, APACHE, 1, 1, samples, delay, 0);
    }
  }
}
