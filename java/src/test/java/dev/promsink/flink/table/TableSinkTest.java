package dev.promsink.flink.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.promsink.flink.internal.jni.SinkCounter;
import dev.promsink.flink.testing.LogCapture;
import dev.promsink.flink.testing.PrometheusServer;
import dev.promsink.flink.testing.Samples;
import dev.promsink.flink.testing.SinkCounters;
import dev.promsink.flink.testing.SinkJobs;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.api.common.JobID;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.logging.log4j.Level;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code CREATE TABLE ... WITH ('connector' = 'prometheus-native')} in a MiniCluster, written into
 * a real Prometheus and read back sample by sample: every mapping of rows to series.
 */
class TableSinkTest {
  private static final InMemoryReporter REPORTER = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension MINI_CLUSTER = SinkJobs.miniCluster(REPORTER);

  private static PrometheusServer prometheus;
  private static final long BASE = SinkJobs.baseMs();

  /**
   * A SQL timestamp literal's date and time; LocalDateTime.toString() would drop ":00" seconds,
   * which SQL refuses.
   */
  private static final java.time.format.DateTimeFormatter SQL_TIMESTAMP =
      java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

  @BeforeAll
  static void startPrometheus() {
    prometheus = new PrometheusServer();
  }

  @AfterAll
  static void stopPrometheus() throws Exception {
    prometheus.close();
  }

  private static TableEnvironment tables() {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(1);
    return StreamTableEnvironment.create(env);
  }

  /** Creates {@code table} with {@code columns} and these options after connector and url. */
  private static void create(TableEnvironment t, String table, String columns, String options) {
    t.executeSql(
        "CREATE TABLE "
            + table
            + " ("
            + columns
            + ") WITH ('connector' = 'prometheus-native', 'url' = '"
            + prometheus.writeUrl()
            + "'"
            + (options.isEmpty() ? "" : ", " + options)
            + ")");
  }

  private static JobID insert(TableEnvironment t, String sql) throws Exception {
    TableResult result = t.executeSql(sql);
    result.await();
    return result.getJobClient().orElseThrow().getJobID();
  }

  private static Map<String, String> labels(String... nameValues) {
    Map<String, String> labels = new LinkedHashMap<>();
    for (int i = 0; i < nameValues.length; i += 2) {
      labels.put(nameValues[i], nameValues[i + 1]);
    }
    return labels;
  }

  /** The {@code numSamplesNullDropped} counter of a job, summed over subtasks. */
  private static long nullDropped(JobID job) {
    long sum = 0;
    for (Map.Entry<String, Metric> e :
        REPORTER.findMetrics(job, RowsToTimeSeries.NULL_DROPPED).entrySet()) {
      if (e.getValue() instanceof Counter) {
        sum += ((Counter) e.getValue()).getCount();
      }
    }
    return sum;
  }

  @Test
  void severalValueColumnsWithAMetricNameExplicitLabelsAndTimestampLtz() throws Exception {
    TableEnvironment t = tables();
    create(
        t,
        "fleet_metrics",
        "device STRING, region STRING, note STRING, temperature DOUBLE, battery FLOAT,"
            + " ts TIMESTAMP_LTZ(3)",
        "'metric.name' = 'sql_fleet', 'metric.value.columns' = 'temperature,battery',"
            + " 'metric.label.columns' = 'device,region', 'metric.timestamp.column' = 'ts'");
    JobID job =
        insert(
            t,
            // Literal-only VALUES (one source, rows in order; rows with expressions become a
            // union of one-row sources in no order), converted in the SELECT.
            "INSERT INTO fleet_metrics SELECT device, region, note, temperature,"
                + " CAST(battery AS FLOAT), TO_TIMESTAMP_LTZ(ms, 3) FROM (VALUES "
                + "('d1', 'eu', 'x', 21.5E0, 0.75E0, "
                + BASE
                + "), ('d1', 'eu', 'y', 22.0E0, 0.5E0, "
                + (BASE + 1000)
                + "), ('d2', 'us', 'z', -3.25E0, 1.0E0, "
                + BASE
                + ")) AS v (device, region, note, temperature, battery, ms)");
    Samples expected = new Samples();
    expected.add(
        labels("__name__", "sql_fleet_temperature", "device", "d1", "region", "eu"), BASE, 21.5);
    expected.add(
        labels("__name__", "sql_fleet_temperature", "device", "d1", "region", "eu"),
        BASE + 1000,
        22.0);
    expected.add(
        labels("__name__", "sql_fleet_temperature", "device", "d2", "region", "us"), BASE, -3.25);
    expected.add(
        labels("__name__", "sql_fleet_battery", "device", "d1", "region", "eu"), BASE, 0.75);
    expected.add(
        labels("__name__", "sql_fleet_battery", "device", "d1", "region", "eu"), BASE + 1000, 0.5);
    expected.add(
        labels("__name__", "sql_fleet_battery", "device", "d2", "region", "us"), BASE, 1.0);
    assertThat(prometheus.rawSamples("{__name__=~\"sql_fleet_.*\"}", "1h").bySeries())
        .isEqualTo(expected.bySeries());
    assertThat(SinkCounters.of(REPORTER, job).get(SinkCounter.SAMPLES_OUT)).isEqualTo(6);
    assertThat(nullDropped(job)).isZero();
  }

  @Test
  void severalValueColumnsWithoutANameAreNamedAfterTheirColumns() throws Exception {
    TableEnvironment t = tables();
    create(
        t,
        "by_column",
        "host STRING, sql_cpu_seconds DOUBLE, sql_open_files BIGINT, ts BIGINT",
        "'metric.value.columns' = 'sql_cpu_seconds, sql_open_files',"
            + " 'metric.timestamp.column' = 'ts'");
    insert(
        t,
        "INSERT INTO by_column VALUES ('h1', 12.5, CAST(40 AS BIGINT), CAST("
            + BASE
            + " AS BIGINT))");
    Samples expected = new Samples();
    expected.add(labels("__name__", "sql_cpu_seconds", "host", "h1"), BASE, 12.5);
    expected.add(labels("__name__", "sql_open_files", "host", "h1"), BASE, 40);
    assertThat(
            prometheus
                .rawSamples("{__name__=~\"sql_cpu_seconds|sql_open_files\"}", "1h")
                .bySeries())
        .isEqualTo(expected.bySeries());
  }

  @Test
  void oneValueColumnTakesTheMetricNameAndEveryOtherStringColumnIsALabel() throws Exception {
    TableEnvironment t = tables();
    create(
        t,
        "load",
        "host STRING, dc STRING, load INT, level TINYINT, ts BIGINT",
        "'metric.name' = 'sql_load', 'metric.value.columns' = 'load',"
            + " 'metric.timestamp.column' = 'ts'");
    insert(
        t,
        "INSERT INTO load VALUES ('h1', 'fra', 3, CAST(1 AS TINYINT), CAST("
            + BASE
            + " AS BIGINT)), ('h2', 'ams', 7, CAST(2 AS TINYINT), CAST("
            + BASE
            + " AS BIGINT))");
    Samples expected = new Samples();
    expected.add(labels("__name__", "sql_load", "host", "h1", "dc", "fra"), BASE, 3);
    expected.add(labels("__name__", "sql_load", "host", "h2", "dc", "ams"), BASE, 7);
    assertThat(prometheus.rawSamples("sql_load", "1h").bySeries()).isEqualTo(expected.bySeries());
  }

  @Test
  void aNameColumnNamesTheSeriesAndTimestampWithoutTimeZoneIsReadAsUtc() throws Exception {
    TableEnvironment t = tables();
    create(
        t,
        "named",
        "name STRING, device STRING, reading DECIMAL(10, 2), small SMALLINT, ts TIMESTAMP(3)",
        "'metric.name.column' = 'name', 'metric.value.columns' = 'reading',"
            + " 'metric.timestamp.column' = 'ts'");
    java.time.LocalDateTime at =
        java.time.LocalDateTime.ofEpochSecond(BASE / 1000, 0, java.time.ZoneOffset.UTC);
    insert(
        t,
        "INSERT INTO named VALUES ('sql_named_a', 'd1', CAST(1.25 AS DECIMAL(10, 2)),"
            + " CAST(1 AS SMALLINT), TIMESTAMP '"
            + at.format(SQL_TIMESTAMP)
            + ".000'), ('sql_named_b', 'd1', CAST(-7.5 AS DECIMAL(10, 2)), CAST(1 AS SMALLINT),"
            + " TIMESTAMP '"
            + at.plusSeconds(1).format(SQL_TIMESTAMP)
            + ".000')");
    Samples expected = new Samples();
    expected.add(labels("__name__", "sql_named_a", "device", "d1"), BASE, 1.25);
    expected.add(labels("__name__", "sql_named_b", "device", "d1"), BASE + 1000, -7.5);
    assertThat(prometheus.rawSamples("{__name__=~\"sql_named_.*\"}", "1h").bySeries())
        .isEqualTo(expected.bySeries());
  }

  @Test
  void aNameColumnWithSeveralValueColumnsAddsTheColumnAsSuffix() throws Exception {
    TableEnvironment t = tables();
    create(
        t,
        "named_several",
        "kind STRING, lo DOUBLE, hi DOUBLE, ts BIGINT",
        "'metric.name.column' = 'kind', 'metric.value.columns' = 'lo,hi',"
            + " 'metric.timestamp.column' = 'ts', 'metric.label.columns' = ''");
    insert(
        t,
        "INSERT INTO named_several VALUES ('sql_range', 1.0, 9.0, CAST(" + BASE + " AS BIGINT))");
    Samples expected = new Samples();
    expected.add(labels("__name__", "sql_range_lo"), BASE, 1.0);
    expected.add(labels("__name__", "sql_range_hi"), BASE, 9.0);
    assertThat(prometheus.rawSamples("{__name__=~\"sql_range_.*\"}", "1h").bySeries())
        .isEqualTo(expected.bySeries());
  }

  @Test
  void nullsOmitTheLabelOrDropTheSampleCounted() throws Exception {
    TableEnvironment t = tables();
    create(
        t,
        "with_nulls",
        "device STRING, region STRING, v DOUBLE, w DOUBLE, ts BIGINT",
        "'metric.name' = 'sql_nulls', 'metric.value.columns' = 'v,w',"
            + " 'metric.timestamp.column' = 'ts'");
    JobID job =
        insert(
            t,
            "INSERT INTO with_nulls VALUES "
                + "('d1', CAST(NULL AS STRING), 1.0, 2.0, CAST("
                + BASE
                + " AS BIGINT)), " // no region label
                + "('d2', 'eu', CAST(NULL AS DOUBLE), 3.0, CAST("
                + BASE
                + " AS BIGINT)), " // v dropped
                + "('d3', 'eu', 4.0, 5.0, CAST(NULL AS BIGINT))"); // both dropped
    Samples expected = new Samples();
    expected.add(labels("__name__", "sql_nulls_v", "device", "d1"), BASE, 1.0);
    expected.add(labels("__name__", "sql_nulls_w", "device", "d1"), BASE, 2.0);
    expected.add(labels("__name__", "sql_nulls_w", "device", "d2", "region", "eu"), BASE, 3.0);
    assertThat(prometheus.rawSamples("{__name__=~\"sql_nulls_.*\"}", "1h").bySeries())
        .isEqualTo(expected.bySeries());
    assertThat(nullDropped(job)).isEqualTo(3);
    assertThat(SinkCounters.of(REPORTER, job).get(SinkCounter.SAMPLES_OUT)).isEqualTo(3);
  }

  @Test
  void withoutATimestampColumnSamplesAreStampedOnArrival() throws Exception {
    TableEnvironment t = tables();
    create(
        t,
        "arrival",
        "device STRING, v INT",
        "'metric.name' = 'sql_arrival', 'metric.value.columns' = 'v'");
    long before = System.currentTimeMillis();
    insert(t, "INSERT INTO arrival VALUES ('d1', 5)");
    long after = System.currentTimeMillis();
    Samples stored = prometheus.rawSamples("sql_arrival", "1h");
    assertThat(stored.sampleCount()).isEqualTo(1);
    Samples.Point point = stored.bySeries().values().iterator().next().get(0);
    assertThat(point.value).isEqualTo(5.0);
    assertThat(point.timestamp).isBetween(before, after);
  }

  @Test
  void rowsOfOneSeriesKeepTheirOrderAcrossParallelSinkSubtasks() throws Exception {
    TableEnvironment t = tables();
    // 2,000 rows of 40 series from a sequence, written by 2 sink subtasks.
    t.executeSql(
        "CREATE TEMPORARY TABLE seq (id BIGINT) WITH ('connector' = 'datagen',"
            + " 'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '1999')");
    create(
        t,
        "ordered",
        "device STRING, v DOUBLE, ts BIGINT",
        "'metric.name' = 'sql_ordered', 'metric.value.columns' = 'v',"
            + " 'metric.timestamp.column' = 'ts', 'sink.parallelism' = '2',"
            + " 'sink.batch.max-samples' = '37', 'sink.lanes' = '4'");
    JobID job =
        insert(
            t,
            "INSERT INTO ordered SELECT CAST(id % 40 AS STRING), CAST(id AS DOUBLE), "
                + BASE
                + " + (id / 40) * 1000 FROM seq");
    Samples expected = new Samples();
    for (long id = 0; id < 2000; id++) {
      expected.add(
          labels("__name__", "sql_ordered", "device", Long.toString(id % 40)),
          BASE + (id / 40) * 1000,
          id);
    }
    assertThat(prometheus.rawSamples("sql_ordered", "1h").bySeries())
        .isEqualTo(expected.bySeries());
    Map<SinkCounter, Long> counters = SinkCounters.of(REPORTER, job);
    assertThat(counters.get(SinkCounter.SAMPLES_OUT)).isEqualTo(2000);
    assertThat(counters.get(SinkCounter.SAMPLES_DROPPED)).isZero();
  }

  @Test
  void credentialsGivenAsOptionsWorkAndShowInNoLogLineOrError() throws Exception {
    String wrong = "sql-wrong-password-5821";
    try (PrometheusServer secure = PrometheusServer.withBasicAuth();
        LogCapture log = LogCapture.everything(Level.ALL)) {
      TableEnvironment t = tables();
      String table =
          "CREATE TABLE %s (device STRING, v DOUBLE, ts BIGINT) WITH ('connector' ="
              + " 'prometheus-native', 'url' = '"
              + secure.writeUrl()
              + "', 'metric.name' = 'sql_secure', 'metric.value.columns' = 'v',"
              + " 'metric.timestamp.column' = 'ts', 'sink.auth.basic.username' = '"
              + PrometheusServer.BASIC_AUTH_USER
              + "', 'sink.auth.basic.password' = '%s')";
      t.executeSql(String.format(table, "secure_ok", PrometheusServer.BASIC_AUTH_PASSWORD));
      t.executeSql(String.format(table, "secure_wrong", wrong));
      insert(t, "INSERT INTO secure_ok VALUES ('d1', 1.5, CAST(" + BASE + " AS BIGINT))");
      Samples expected = new Samples();
      expected.add(labels("__name__", "sql_secure", "device", "d1"), BASE, 1.5);
      assertThat(secure.rawSamples("sql_secure", "1h").bySeries()).isEqualTo(expected.bySeries());

      Throwable failed =
          catchThrowable(
              () ->
                  insert(
                      t,
                      "INSERT INTO secure_wrong VALUES ('d1', 2.5, CAST("
                          + (BASE + 1000)
                          + " AS BIGINT))"));
      StringWriter trace = new StringWriter();
      failed.printStackTrace(new PrintWriter(trace));
      assertThat(trace.toString()).contains("answered HTTP 401");
      String everything = trace + "\n" + String.join("\n", log.lines());
      assertThat(everything).doesNotContain(wrong, PrometheusServer.BASIC_AUTH_PASSWORD);
    }
  }
}
