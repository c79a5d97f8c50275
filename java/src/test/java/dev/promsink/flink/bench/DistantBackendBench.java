package dev.promsink.flink.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import dev.promsink.flink.testing.FaultReceiver;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Benchmark 3 of docs/benchmarks.md, the distant backend: a receiver that answers every request
 * after 50 ms (a managed Prometheus across a region), one sink subtask, batches of 500 samples.
 * Compares one request in flight (how Apache's connector sends) with lanes and batches in flight,
 * with and without throttling, and counts per-series order violations at the receiver.
 *
 * <p>Throughput is measured by the receiver: samples accepted between its first and last request
 * (plus one answer delay), so job start-up does not count. Prints one CSV line per run: {@code
 * distant,<scenario>,<fixed|adaptive>,<lanes>,<inFlight>,<samples>,<seconds>,<samples/s>,
 * <requests>,<samples/request>,<order violations>,<retries>,<samples/s in the second half>,<peak
 * native bytes>}. The second half (by time) shows the steady state, after adaptive lanes have
 * ramped up; the peak native memory is what the library held at most during the run.
 *
 * <p>Arguments: samples per run for one lane (default 30000), for more lanes (default 200000),
 * series (default 10000), answer delay ms (default 50). System property {@code bench.configs}:
 * comma-separated {@code <lanes>x<batches in flight>}, fixed lanes, or with a trailing {@code a}
 * adaptive lanes (the default of the builder).
 */
public final class DistantBackendBench {
  private DistantBackendBench() {}

  public static void main(String[] args) throws Exception {
    long oneLaneSamples = args.length > 0 ? Long.parseLong(args[0]) : 30_000;
    long samples = args.length > 1 ? Long.parseLong(args[1]) : 200_000;
    int series = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
    int delay = args.length > 3 ? Integer.parseInt(args[3]) : 50;
    int[][] configs =
        parseConfigs(
            System.getProperty("bench.configs", "1x1,4x1,2x4,4x8,8x16,12x36,16x32,12x36a"));
    for (String scenario : new String[] {"steady", "throttled"}) {
      for (int[] c : configs) {
        // Adaptive lanes ramp up for a couple of seconds: give them a longer run.
        long n = c[0] == 1 && c[1] == 1 ? oneLaneSamples : c[2] == 1 ? 3 * samples : samples;
        run(scenario, c[0], c[1], c[2] == 1, n, series, delay);
      }
    }
  }

  /** {@code lanes x inFlight [a]} items, comma-separated: {lanes, inFlight, adaptive ? 1 : 0}. */
  static int[][] parseConfigs(String text) {
    String[] items = text.split(",");
    int[][] out = new int[items.length][];
    for (int i = 0; i < items.length; i++) {
      String item = items[i].trim();
      boolean adaptive = item.endsWith("a");
      String[] p = (adaptive ? item.substring(0, item.length() - 1) : item).split("x");
      out[i] = new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), adaptive ? 1 : 0};
    }
    return out;
  }

  /** The receiver's script: answers after {@code delay} ms; throttled: 2 of every 22 are 429. */
  static String script(String scenario, int delay) {
    if (scenario.equals("steady")) {
      return "";
    }
    List<String> steps = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      steps.add("204:delay=" + delay + "*20");
      steps.add("429:delay=" + delay + "*2");
    }
    return String.join(",", steps);
  }

  /** Samples/s accepted by the requests that arrived in the second half of the run. */
  static double secondHalfRate(List<JsonNode> log, long first, long last, int delay) {
    long middle = first + (last - first) / 2;
    long samples = 0;
    for (JsonNode q : log) {
      if (q.get("at_ms").asLong() > middle && q.get("status").asInt() / 100 == 2) {
        samples += q.get("samples").asLong();
      }
    }
    return samples / ((last - middle + delay) / 1000.0);
  }

  static void run(
      String scenario,
      int lanes,
      int inFlight,
      boolean adaptive,
      long samples,
      int series,
      int delay)
      throws Exception {
    try (FaultReceiver receiver =
        FaultReceiver.start(script(scenario, delay), "204:delay=" + delay)) {
      StreamExecutionEnvironment env =
          StreamExecutionEnvironment.createLocalEnvironment(1, new Configuration());
      long base = System.currentTimeMillis() - 3_600_000L;
      env.fromSequence(0, samples - 1)
          .map(
              n ->
                  PrometheusTimeSeries.builder()
                      .withMetricName("bench_distant")
                      .addLabel("device", "d" + (n % series))
                      .addLabel("fleet", "f" + (n % series % 50))
                      .addSample(n, base + n / series)
                      .build())
          .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
          .sinkTo(
              PrometheusSink.builder()
                  .setPrometheusRemoteWriteUrl(receiver.writeUrl())
                  .setSendingLanes(lanes)
                  .setAdaptiveSendingLanes(adaptive)
                  .setMaxInFlightRequests(inFlight)
                  .setMaxBufferedRequests(Math.max(1000, 2 * 500 * inFlight))
                  .build());
      dev.promsink.flink.internal.jni.NativeClient.nativeMemory(true);
      env.execute("distant backend " + scenario + " lanes=" + lanes);
      long peak = dev.promsink.flink.internal.jni.NativeClient.nativeMemory(false)[1];
      report(
          receiver,
          scenario,
          adaptive ? "adaptive" : "fixed",
          lanes,
          inFlight,
          samples,
          delay,
          peak);
    }
  }

  /**
   * Prints the CSV line of one run from the receiver's counts and request log ({@code mode}: fixed,
   * adaptive, or apache for Apache's connector, see ApacheComparisonBench).
   */
  static void report(
      FaultReceiver receiver,
      String scenario,
      String mode,
      int lanes,
      int inFlight,
      long samples,
      int delay,
      long nativePeak) {
    JsonNode stats = receiver.stats();
    List<JsonNode> log = receiver.requests();
    long first = log.get(0).get("at_ms").asLong();
    long last = log.get(log.size() - 1).get("at_ms").asLong();
    double seconds = (last - first + delay) / 1000.0;
    long accepted = stats.get("accepted_samples").asLong();
    long requests = stats.get("accepted_requests").asLong();
    JsonNode refused = stats.get("statuses").get("429");
    System.out.printf(
        Locale.ROOT,
        "distant,%s,%s,%d,%d,%d,%.2f,%.0f,%d,%.1f,%d,%d,%.0f,%d%n",
        scenario,
        mode,
        lanes,
        inFlight,
        accepted,
        seconds,
        accepted / seconds,
        requests,
        (double) accepted / requests,
        stats.get("order_violations").asLong(),
        refused == null ? 0 : refused.asLong(),
        secondHalfRate(log, first, last, delay),
        nativePeak);
    if (accepted != samples) {
      throw new IllegalStateException("lost samples: " + accepted + " of " + samples);
    }
  }
}
