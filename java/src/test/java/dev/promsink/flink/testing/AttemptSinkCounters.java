package dev.promsink.flink.testing;

import dev.promsink.flink.internal.jni.SinkCounter;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.scope.ScopeFormat;
import org.apache.flink.runtime.testutils.InMemoryReporter;

/**
 * The sink's counters of a job that restarted, per execution attempt. Each attempt's writers start
 * from zero; with retained metrics the reporter keeps every attempt's counters (their metric
 * identifiers are equal, so {@link SinkCounters}, which maps identifiers, cannot tell them apart).
 */
public final class AttemptSinkCounters {
  private static final String GROUP = "Prometheus";

  private AttemptSinkCounters() {}

  /** The counters of the writers of attempt {@code attempt}, summed over their subtasks. */
  public static Map<SinkCounter, Long> of(InMemoryReporter reporter, JobID job, int attempt) {
    Map<SinkCounter, Long> out = new EnumMap<>(SinkCounter.class);
    for (SinkCounter c : SinkCounter.values()) {
      out.put(c, 0L);
    }
    for (Tuple3<MetricGroup, String, Metric> m : sinkCounters(reporter, job)) {
      if (attemptOf(m.f0) != attempt) {
        continue;
      }
      for (SinkCounter c : SinkCounter.values()) {
        if (c.metricName().equals(m.f1)) {
          out.merge(c, ((Counter) m.f2).getCount(), Long::sum);
        }
      }
    }
    return out;
  }

  /** Attempt number to the subtask indices whose writer registered the sink's counters. */
  public static Map<Integer, Set<Integer>> writers(InMemoryReporter reporter, JobID job) {
    Map<Integer, Set<Integer>> out = new TreeMap<>();
    for (Tuple3<MetricGroup, String, Metric> m : sinkCounters(reporter, job)) {
      out.computeIfAbsent(attemptOf(m.f0), a -> new TreeSet<>())
          .add(Integer.parseInt(m.f0.getAllVariables().get(ScopeFormat.SCOPE_TASK_SUBTASK_INDEX)));
    }
    return out;
  }

  private static Iterable<Tuple3<MetricGroup, String, Metric>> sinkCounters(
      InMemoryReporter reporter, JobID job) {
    return () ->
        reporter.findJobMetricGroups(job, "^num").stream()
            .filter(
                m -> {
                  String[] scope = m.f0.getScopeComponents();
                  return scope.length > 0
                      && GROUP.equals(scope[scope.length - 1])
                      && m.f2 instanceof Counter;
                })
            .iterator();
  }

  private static int attemptOf(MetricGroup group) {
    return Integer.parseInt(group.getAllVariables().get(ScopeFormat.SCOPE_TASK_ATTEMPT_NUM));
  }
}
