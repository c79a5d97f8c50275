package dev.promsink.flink.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Raw samples read back from a receiver: series (sorted label set) to its samples in order. */
public final class Samples {
  /** One sample as stored. */
  public static final class Point {
    public final long timestamp;
    public final double value;

    public Point(long timestamp, double value) {
      this.timestamp = timestamp;
      this.value = value;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Point
          && ((Point) o).timestamp == timestamp
          && Double.doubleToLongBits(((Point) o).value) == Double.doubleToLongBits(value);
    }

    @Override
    public int hashCode() {
      return Long.hashCode(timestamp) * 31 + Double.hashCode(value);
    }

    @Override
    public String toString() {
      return timestamp + "=" + value;
    }
  }

  private final Map<String, List<Point>> series = new TreeMap<>();

  /** Adds a sample of the series with these labels (including __name__). */
  public void add(Map<String, String> labels, long timestamp, double value) {
    series.computeIfAbsent(key(labels), k -> new ArrayList<>()).add(new Point(timestamp, value));
  }

  /** A canonical key: labels sorted by name, {@code name="value"} joined by commas. */
  public static String key(Map<String, String> labels) {
    StringBuilder b = new StringBuilder("{");
    new TreeMap<>(labels)
        .forEach(
            (k, v) ->
                b.append(b.length() > 1 ? "," : "").append(k).append("=\"").append(v).append('"'));
    return b.append('}').toString();
  }

  public Map<String, List<Point>> bySeries() {
    return series;
  }

  public int sampleCount() {
    return series.values().stream().mapToInt(List::size).sum();
  }
}
