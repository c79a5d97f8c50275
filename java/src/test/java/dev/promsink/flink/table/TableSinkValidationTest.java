package dev.promsink.flink.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Bad DDL fails at planning time, naming the option or column and what is allowed. */
class TableSinkValidationTest {
  private static final String COLUMNS =
      "device STRING, region STRING, temperature DOUBLE, battery DOUBLE, count_ INT,"
          + " ts TIMESTAMP_LTZ(3), at_ms BIGINT, at_int INT";
  private static final String URL = "'url' = 'http://127.0.0.1:9/api/v1/write'";
  private static final String VALUES = "'metric.value.columns' = 'temperature,battery'";

  private static TableEnvironment tables() {
    return TableEnvironment.create(EnvironmentSettings.inStreamingMode());
  }

  /** The plan of {@code INSERT INTO t SELECT * FROM src} for a table with {@code options}. */
  private static String explain(String options) {
    TableEnvironment t = tables();
    t.executeSql(
        "CREATE TABLE src ("
            + COLUMNS
            + ") WITH ('connector' = 'datagen', 'number-of-rows' = '1')");
    t.executeSql(
        "CREATE TABLE t ("
            + COLUMNS
            + ") WITH ('connector' = 'prometheus-native'"
            + (options.isEmpty() ? "" : ", " + options)
            + ")");
    return t.explainSql("INSERT INTO t SELECT * FROM src");
  }

  /** What planning that insert throws; null when it plans. */
  private static Throwable plan(String options) {
    return catchThrowable(() -> explain(options));
  }

  /** Every message in the cause chain, joined. */
  private static String messages(Throwable thrown) {
    List<String> messages = new ArrayList<>();
    for (Throwable t = thrown; t != null; t = t.getCause()) {
      messages.add(String.valueOf(t.getMessage()));
    }
    return String.join("\n--\n", messages);
  }

  static Stream<Arguments> badDdl() {
    return Stream.of(
        Arguments.of(
            "unknown option",
            URL + ", " + VALUES + ", 'sink.colour' = 'red'",
            "Unsupported options found for 'prometheus-native'"),
        Arguments.of(
            "unknown option, named",
            URL + ", " + VALUES + ", 'sink.colour' = 'red'",
            "sink.colour"),
        Arguments.of("missing url", VALUES, "Missing required options are:\n\nurl"),
        Arguments.of(
            "missing value columns", URL, "Missing required options are:\n\nmetric.value.columns"),
        Arguments.of(
            "value column not numeric",
            URL + ", 'metric.value.columns' = 'device'",
            "Invalid 'metric.value.columns': device STRING; allowed: numeric columns (TINYINT,"
                + " SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL)"),
        Arguments.of(
            "column in no place",
            URL + ", 'metric.value.columns' = 'humidity'",
            "Invalid 'metric.value.columns': humidity; allowed: columns of the table: device,"
                + " region, temperature, battery, count_, ts, at_ms, at_int"),
        Arguments.of(
            "column used twice across options",
            URL + ", " + VALUES + ", 'metric.label.columns' = 'device,temperature'",
            "Invalid 'metric.label.columns': temperature; allowed: a column used once"),
        Arguments.of(
            "column listed twice",
            URL + ", 'metric.value.columns' = 'temperature, temperature'",
            "Invalid 'metric.value.columns': temperature; allowed: a column used once"),
        Arguments.of(
            "name and name column",
            URL + ", " + VALUES + ", 'metric.name' = 'fleet', 'metric.name.column' = 'device'",
            "Set 'metric.name' (a constant) or 'metric.name.column' (a STRING column), not both."),
        Arguments.of(
            "name column not a string",
            URL + ", " + VALUES + ", 'metric.name.column' = 'count_'",
            "Invalid 'metric.name.column': count_ INT; allowed: STRING (CHAR or VARCHAR) columns"),
        Arguments.of(
            "label column not a string",
            URL + ", " + VALUES + ", 'metric.label.columns' = 'count_'",
            "Invalid 'metric.label.columns': count_ INT; allowed: STRING (CHAR or VARCHAR)"
                + " columns"),
        Arguments.of(
            "timestamp column of another type",
            URL + ", " + VALUES + ", 'metric.timestamp.column' = 'at_int'",
            "Invalid 'metric.timestamp.column': at_int INT; allowed: a TIMESTAMP, TIMESTAMP_LTZ or"
                + " BIGINT (epoch milliseconds) column"),
        Arguments.of(
            "invalid metric name",
            URL + ", " + VALUES + ", 'metric.name' = 'fleet-metrics'",
            "Invalid 'metric.name': fleet-metrics; allowed: a metric name matching"
                + " [a-zA-Z_:][a-zA-Z0-9_:]*"),
        Arguments.of(
            "a builder check, named as the table option",
            URL + ", " + VALUES + ", 'sink.lanes' = '65'",
            "Invalid 'sink.lanes': 65; allowed: 1 to 64"),
        Arguments.of(
            "retry delays",
            URL
                + ", "
                + VALUES
                + ", 'sink.retry.initial-delay' = '2 s', 'sink.retry.max-delay' = '1 s'",
            "Invalid 'sink.retry.max-delay': 1000; allowed: at least the initial retry delay (2000)"),
        Arguments.of(
            "a URL that is not http",
            "'url' = 'ftp://127.0.0.1/write', " + VALUES,
            "Invalid 'url': ftp://127.0.0.1/write; allowed: an http:// or https:// URL with a host"),
        Arguments.of(
            "an enum value",
            URL + ", " + VALUES + ", 'sink.remote-write.version' = 'V3'",
            "sink.remote-write.version"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badDdl")
  void badDdlFailsAtPlanningNamingTheOptionOrColumn(String what, String options, String expected) {
    Throwable thrown = plan(options);
    assertThat(thrown).as(what).isNotNull();
    assertThat(messages(thrown)).as(what).contains(expected);
  }

  @Test
  void aQueryWithUpdatesIsRefusedSayingTheSinkTakesAppendsOnly() {
    TableEnvironment t = tables();
    t.executeSql(
        "CREATE TABLE src ("
            + COLUMNS
            + ") WITH ('connector' = 'datagen', 'number-of-rows' = '5')");
    t.executeSql(
        "CREATE TABLE running_totals (device STRING, temperature DOUBLE) WITH ("
            + "'connector' = 'prometheus-native', "
            + URL
            + ", 'metric.value.columns' = 'temperature')");
    Throwable thrown =
        catchThrowable(
            () ->
                t.explainSql(
                    "INSERT INTO running_totals SELECT device, SUM(temperature) FROM src GROUP BY device"));
    assertThat(messages(thrown))
        .contains(
            "Table 'default_catalog.default_database.running_totals' ('connector' = 'prometheus-native')"
                + " accepts appends only (INSERT rows), but the query produces")
        .contains("UPDATE_AFTER");
  }

  @Test
  void aValidTableAndAnAppendQueryPlan() {
    Throwable thrown =
        plan(
            URL
                + ", "
                + VALUES
                + ", 'metric.name' = 'fleet', 'metric.label.columns' = 'device,region',"
                + " 'metric.timestamp.column' = 'ts', 'sink.lanes' = '4',"
                + " 'sink.remote-write.version' = 'V2', 'sink.retry.max-count' = '3',"
                + " 'sink.error.on-max-retry-exceeded' = 'DISCARD_AND_CONTINUE',"
                + " 'sink.http-headers' = 'X-Scope-OrgID:tenant-1'");
    assertThat(thrown).isNull();
  }

  @Test
  void secretsGivenAsOptionsShowNeitherInErrorsNorInPlans() {
    String password = "sql-basic-password-6131";
    String header = "sql-header-secret-7717";
    String token = "sql-bearer-token-2207";
    String secrets =
        "'sink.auth.basic.username' = 'fleet', 'sink.auth.basic.password' = '"
            + password
            + "', 'sink.http-headers' = 'X-Api-Key:"
            + header
            + "'";
    // A DDL error (lanes out of range): Flink prints the table's options with the error.
    String failed = messages(plan(URL + ", " + VALUES + ", " + secrets + ", 'sink.lanes' = '0'"));
    assertThat(failed).contains("Invalid 'sink.lanes': 0").doesNotContain(password, header);
    // A bearer token refused together with basic auth: the message hides it.
    String both =
        messages(
            plan(
                URL
                    + ", "
                    + VALUES
                    + ", "
                    + secrets
                    + ", 'sink.auth.bearer-token' = '"
                    + token
                    + "'"));
    assertThat(both).contains("sink.auth.bearer-token").doesNotContain(password, header, token);
    // A valid table: the plan shows no secret.
    String plan = explain(URL + ", " + VALUES + ", " + secrets);
    assertThat(plan)
        .contains("Sink(table=[default_catalog.default_database.t]")
        .doesNotContain(password, header);
  }
}
