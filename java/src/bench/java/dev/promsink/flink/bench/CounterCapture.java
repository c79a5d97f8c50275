package dev.promsink.flink.bench;

import java.util.List;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * A metric reporter that keeps a reference to every sink counter of group {@code Prometheus}
 * (promsink's and Apache's connector's share the names) as it is registered, so that their final
 * values can be read after the job ends and its MiniCluster has closed (Flink's InMemoryReporter
 * clears its metrics when the MiniCluster closes, which races with reading them).
 */
public final class CounterCapture implements MetricReporter {
  private static final List<String[]> NAMES = new CopyOnWriteArrayList<>();
  private static final List<Counter> COUNTERS = new CopyOnWriteArrayList<>();

  /** {@code conf} with this reporter configured; forgets the counters of earlier jobs. */
  static Configuration configure(Configuration conf) {
    NAMES.clear();
    COUNTERS.clear();
    conf.setString("metrics.reporter.benchcounters.factory.class", Factory.class.getName());
    return conf;
  }

  /** The sum over subtasks of sink counter {@code name} of the last configured job. */
  static long sum(String name) {
    long sum = 0;
    for (int i = 0; i < COUNTERS.size(); i++) {
      if (NAMES.get(i)[0].equals(name)) {
        sum += COUNTERS.get(i).getCount();
      }
    }
    return sum;
  }

  @Override
  public void open(MetricConfig config) {}

  @Override
  public void close() {}

  @Override
  public void notifyOfAddedMetric(Metric metric, String name, MetricGroup group) {
    if (metric instanceof Counter
        && group.getMetricIdentifier(name).endsWith(".Prometheus." + name)) {
      // Names first: sum() reads COUNTERS.size() entries of both.
      NAMES.add(new String[] {name});
      COUNTERS.add((Counter) metric);
    }
  }

  @Override
  public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {}

  /** Creates the reporter (Flink loads it by class name). */
  public static final class Factory implements MetricReporterFactory {
    @Override
    public MetricReporter createMetricReporter(Properties properties) {
      return new CounterCapture();
    }
  }
}
