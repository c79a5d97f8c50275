package dev.promsink.example;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.PrometheusTimeSeriesLabelsAndMetricNameKeySelector;
import dev.promsink.flink.RemoteWriteVersion;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * An example job: a fleet of devices, each reporting its temperature and battery level once a
 * second, written to Prometheus by promsink. The values are a pure function of device and tick, and
 * exact in binary and in short decimal (receivers that store decimals, such as VictoriaMetrics,
 * give them back unchanged), so what arrived can be checked exactly:
 *
 * <pre>
 *   fleet_temperature_celsius{device="dev-0007",region="us-east"} = 20 + device % 10 + (tick % 60) / 4.0
 *   fleet_battery_ratio{...}                                       = 1 - (tick % 1000) / 1024.0
 *   timestamp                                                      = start + tick * 1000 ms
 * </pre>
 *
 * <p>Options: {@code --url} (required: the Remote-Write URL), {@code --devices} (200), {@code
 * --ticks} (samples per series, 60), {@code --rate} (records per second, 0 = as fast as possible;
 * default 2 x devices, i.e. real time), {@code --start-ms} (the first timestamp; default: now minus
 * the ticks, so every sample lies in the past), {@code --parallelism} (of the sink, 2), {@code
 * --checkpoint-ms} (1000), {@code --remote-write-version} ({@code V1} or {@code V2}; V1).
 */
public final class FleetJob {
  static final String[] REGIONS = {"eu-west", "us-east", "ap-south"};

  private FleetJob() {}

  /** Record {@code n}: one metric of one device at one tick; ticks in order. */
  static final class Fleet implements GeneratorFunction<Long, PrometheusTimeSeries> {
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
      return PrometheusTimeSeries.builder()
          .withMetricName(temperature ? "fleet_temperature_celsius" : "fleet_battery_ratio")
          .addLabel("device", String.format("dev-%04d", device))
          .addLabel("region", REGIONS[device % REGIONS.length])
          .addSample(
              temperature ? 20 + device % 10 + (tick % 60) / 4.0 : 1 - (tick % 1000) / 1024.0,
              startMs + tick * 1000)
          .build();
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = parse(args);
    String url = options.get("url");
    if (url == null) {
      throw new IllegalArgumentException("--url <remote-write URL> is required");
    }
    int devices = Integer.parseInt(options.getOrDefault("devices", "200"));
    int ticks = Integer.parseInt(options.getOrDefault("ticks", "60"));
    double rate = Double.parseDouble(options.getOrDefault("rate", String.valueOf(devices * 2)));
    long startMs =
        Long.parseLong(
            options.getOrDefault(
                "start-ms", String.valueOf((System.currentTimeMillis() / 1000 - ticks) * 1000)));
    int parallelism = Integer.parseInt(options.getOrDefault("parallelism", "2"));
    long checkpointMs = Long.parseLong(options.getOrDefault("checkpoint-ms", "1000"));
    RemoteWriteVersion version =
        RemoteWriteVersion.valueOf(options.getOrDefault("remote-write-version", "V1"));

    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.enableCheckpointing(checkpointMs);

    DataGeneratorSource<PrometheusTimeSeries> source =
        new DataGeneratorSource<>(
            new Fleet(devices, startMs),
            (long) devices * 2 * ticks,
            rate > 0 ? RateLimiterStrategy.perSecond(rate) : RateLimiterStrategy.noOp(),
            TypeInformation.of(PrometheusTimeSeries.class));

    env.fromSource(source, WatermarkStrategy.noWatermarks(), "fleet")
        .setParallelism(1) // one generator keeps every series in time order
        .keyBy(new PrometheusTimeSeriesLabelsAndMetricNameKeySelector()) // a series, a subtask
        .sinkTo(
            PrometheusSink.builder()
                .setPrometheusRemoteWriteUrl(url)
                .setRemoteWriteVersion(version)
                .build())
        .setParallelism(parallelism)
        .name("prometheus");
    env.execute("promsink example: fleet of " + devices + " devices");
  }

  private static Map<String, String> parse(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --option value pairs, got " + args[i]);
      }
      options.put(args[i].substring(2), args[i + 1]);
    }
    return options;
  }
}
