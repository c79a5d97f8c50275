package dev.promsink.flink.demo;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.SinkCounters;
import java.util.Map;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The demo: a simulated fleet of devices reporting temperature and battery once a second, with
 * device, fleet and region labels, written to Prometheus by the native sink with keyBy and
 * parallelism 2. Prints the sink's counters when done.
 *
 * <p>Arguments: remote-write URL, seconds to run (default 30), devices (default 200).
 */
public final class FleetDemoJob {
  private FleetDemoJob() {}

  /** Generates record {@code n}: one metric of one device at one tick, in time order. */
  static final class Fleet implements GeneratorFunction<Long, PrometheusTimeSeries> {
    private static final String[] REGIONS = {"eu-west", "us-east", "ap-south"};
    private final int devices;
    private final long startMs;

    Fleet(int devices, long startMs) {
      this.devices = devices;
      this.startMs = startMs;
    }

    @Override
    public PrometheusTimeSeries map(Long n) {
      long tick = n / (devices * 2L);
      int device = (int) ((n / 2) % devices);
      boolean temperature = n % 2 == 0;
      long timestamp = startMs + tick * 1000;
      double value =
          temperature
              ? 20 + (device % 10) + 0.5 * Math.sin((tick + device) / 5.0)
              : Math.max(0, 1 - (tick * 0.002) - (device % 7) * 0.01);
      return PrometheusTimeSeries.builder()
          .withMetricName(temperature ? "fleet_temperature_celsius" : "fleet_battery_ratio")
          .addLabel("device", String.format("dev-%04d", device))
          .addLabel("fleet", "fleet-" + (device % 4))
          .addLabel("region", REGIONS[device % REGIONS.length])
          .addSample(Math.round(value * 1000) / 1000.0, timestamp)
          .build();
    }
  }

  public static void main(String[] args) throws Exception {
    String url = args.length > 0 ? args[0] : "http://127.0.0.1:19090/api/v1/write";
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    int devices = args.length > 2 ? Integer.parseInt(args[2]) : 200;

    InMemoryReporter reporter = InMemoryReporter.createWithRetainedMetrics();
    Configuration config = reporter.addToConfiguration(new Configuration());
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(2, config);

    long records = (long) devices * 2 * seconds;
    DataGeneratorSource<PrometheusTimeSeries> source =
        new DataGeneratorSource<>(
            new Fleet(devices, System.currentTimeMillis() / 1000 * 1000),
            records,
            RateLimiterStrategy.perSecond(devices * 2.0),
            TypeInformation.of(PrometheusTimeSeries.class));

    env.fromSource(source, WatermarkStrategy.noWatermarks(), "simulated fleet")
        .setParallelism(1) // one generator keeps every series in time order
        .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector())
        .sinkTo(PrometheusSink.builder().setPrometheusRemoteWriteUrl(url).build())
        .name("promsink");

    System.out.printf(
        "Running the fleet demo: %d devices x 2 metrics, 1 sample/s each, for %d s -> %s%n",
        devices, seconds, url);
    JobExecutionResult result = env.execute("promsink fleet demo");

    Map<SinkCounter, Long> counters = SinkCounters.of(reporter, result.getJobID());
    System.out.printf(
        "Job finished in %.1f s. Sink counters (both subtasks):%n",
        result.getNetRuntime() / 1000.0);
    for (SinkCounter c : SinkCounter.values()) {
      System.out.printf("  %-36s %d%n", c.metricName(), counters.get(c));
    }
  }
}
