package dev.promsink.flink.testing;

import dev.promsink.flink.internal.jni.SinkCounter;
import java.util.EnumMap;
import java.util.Map;
import org.apache.flink.api.common.JobID;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;

/** The sink's counters of one job, summed over its subtasks. */
public final class SinkCounters {
  private SinkCounters() {}

  public static Map<SinkCounter, Long> of(InMemoryReporter reporter, JobID job) {
    Map<SinkCounter, Long> out = new EnumMap<>(SinkCounter.class);
    for (SinkCounter c : SinkCounter.values()) {
      long sum = 0;
      for (Map.Entry<String, Metric> e : reporter.findMetrics(job, c.metricName()).entrySet()) {
        if (e.getKey().endsWith(".Prometheus." + c.metricName())
            && e.getValue() instanceof Counter) {
          sum += ((Counter) e.getValue()).getCount();
        }
      }
      out.put(c, sum);
    }
    return out;
  }
}
