package dev.promsink.flink.table;

import static dev.promsink.flink.table.PrometheusTableOptions.*;

import dev.promsink.flink.PrometheusSink;
import dev.promsink.flink.PrometheusSinkBuilder;
import dev.promsink.flink.PrometheusSinkConfiguration.RetryConfiguration;
import dev.promsink.flink.PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeFamily;
import org.apache.flink.table.types.logical.LogicalTypeRoot;

/**
 * {@code CREATE TABLE ... WITH ('connector' = 'prometheus-native', ...)}: checks the options and
 * the columns at planning time, naming the option or column and what is allowed, and builds the
 * sink with {@link PrometheusSinkBuilder} (so the same defaults and checks as the DataStream API).
 */
public final class PrometheusDynamicTableSinkFactory implements DynamicTableSinkFactory {
  /** The connector's name in DDL. */
  public static final String IDENTIFIER = "prometheus-native";

  private static final Pattern METRIC_NAME_PATTERN = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern LABEL_NAME_PATTERN = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

  /** The builder's names for its options (in its messages), and the table options they are. */
  private static final Map<String, ConfigOption<?>> BUILDER_NAMES = new LinkedHashMap<>();

  static {
    BUILDER_NAMES.put("setPrometheusRemoteWriteUrl", URL);
    BUILDER_NAMES.put("setMaxBatchSizeInSamples", BATCH_MAX_SAMPLES);
    BUILDER_NAMES.put("setMaxRecordSizeInSamples", RECORD_MAX_SAMPLES);
    BUILDER_NAMES.put("setMaxBufferedRequests", REQUESTS_MAX_BUFFERED);
    BUILDER_NAMES.put("setMaxInFlightRequests", REQUESTS_MAX_INFLIGHT);
    BUILDER_NAMES.put("setMaxTimeInBufferMS", FLUSH_BUFFER_TIMEOUT);
    BUILDER_NAMES.put("setSendingLanes", LANES);
    BUILDER_NAMES.put("setRequestLingerMs", REQUEST_LINGER);
    BUILDER_NAMES.put("RetryConfiguration.setInitialRetryDelayMS", RETRY_INITIAL_DELAY);
    BUILDER_NAMES.put("RetryConfiguration.setMaxRetryDelayMS", RETRY_MAX_DELAY);
    BUILDER_NAMES.put("RetryConfiguration.setMaxRetryCount", RETRY_MAX_COUNT);
    BUILDER_NAMES.put("setSocketTimeoutMs", SOCKET_TIMEOUT);
    BUILDER_NAMES.put("setHttpUserAgent", HTTP_USER_AGENT);
    BUILDER_NAMES.put("setMetricGroupName", METRIC_GROUP_NAME);
    BUILDER_NAMES.put("setBasicAuth(username)", BASIC_AUTH_USERNAME);
    BUILDER_NAMES.put("setBasicAuth(password)", BASIC_AUTH_PASSWORD);
    BUILDER_NAMES.put("setBearerToken", BEARER_TOKEN);
    BUILDER_NAMES.put("addHttpHeader", HTTP_HEADERS);
    BUILDER_NAMES.put("setTlsCaCertificateFile", TLS_CA_FILE);
  }

  @Override
  public String factoryIdentifier() {
    return IDENTIFIER;
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return new HashSet<>(Arrays.asList(URL, METRIC_VALUE_COLUMNS));
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return new HashSet<>(
        Arrays.asList(
            METRIC_NAME,
            METRIC_NAME_COLUMN,
            METRIC_LABEL_COLUMNS,
            METRIC_TIMESTAMP_COLUMN,
            BATCH_MAX_SAMPLES,
            RECORD_MAX_SAMPLES,
            REQUESTS_MAX_BUFFERED,
            REQUESTS_MAX_INFLIGHT,
            FLUSH_BUFFER_TIMEOUT,
            REQUEST_LINGER,
            RETRY_INITIAL_DELAY,
            RETRY_MAX_DELAY,
            RETRY_MAX_COUNT,
            ON_MAX_RETRY_EXCEEDED,
            SOCKET_TIMEOUT,
            HTTP_USER_AGENT,
            HTTP_HEADERS,
            METRIC_GROUP_NAME,
            LANES,
            LANES_ADAPTIVE,
            REMOTE_WRITE_VERSION,
            TLS_CA_FILE,
            BASIC_AUTH_USERNAME,
            BASIC_AUTH_PASSWORD,
            BEARER_TOKEN,
            FactoryUtil.SINK_PARALLELISM));
  }

  @Override
  public DynamicTableSink createDynamicTableSink(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validate();
    ReadableConfig options = helper.getOptions();
    String table = context.getObjectIdentifier().asSummaryString();
    DataType row = context.getPhysicalRowDataType();
    RowMapping mapping = mapping(row, options);
    return new PrometheusDynamicTableSink(
        table,
        sink(options),
        mapping,
        options.get(METRIC_GROUP_NAME),
        options.getOptional(FactoryUtil.SINK_PARALLELISM).orElse(null));
  }

  /** The sink, built and checked by the builder; its messages name the table options. */
  private static PrometheusSink sink(ReadableConfig options) {
    PrometheusSinkBuilder builder =
        PrometheusSink.builder()
            .setPrometheusRemoteWriteUrl(options.get(URL))
            .setMaxBatchSizeInSamples(options.get(BATCH_MAX_SAMPLES))
            .setMaxBufferedRequests(options.get(REQUESTS_MAX_BUFFERED))
            .setMaxTimeInBufferMS(options.get(FLUSH_BUFFER_TIMEOUT).toMillis())
            .setRequestLingerMs(options.get(REQUEST_LINGER).toMillis())
            .setRetryConfiguration(
                RetryConfiguration.builder()
                    .setInitialRetryDelayMS(options.get(RETRY_INITIAL_DELAY).toMillis())
                    .setMaxRetryDelayMS(options.get(RETRY_MAX_DELAY).toMillis())
                    .setMaxRetryCount(options.get(RETRY_MAX_COUNT))
                    .build())
            .setErrorHandlingBehaviorConfiguration(
                SinkWriterErrorHandlingBehaviorConfiguration.builder()
                    .onMaxRetryExceeded(options.get(ON_MAX_RETRY_EXCEEDED))
                    .build())
            .setSocketTimeoutMs(
                (int) Math.min(Integer.MAX_VALUE, options.get(SOCKET_TIMEOUT).toMillis()))
            .setMetricGroupName(options.get(METRIC_GROUP_NAME))
            .setSendingLanes(options.get(LANES))
            .setAdaptiveSendingLanes(options.get(LANES_ADAPTIVE))
            .setRemoteWriteVersion(options.get(REMOTE_WRITE_VERSION));
    options.getOptional(RECORD_MAX_SAMPLES).ifPresent(builder::setMaxRecordSizeInSamples);
    options.getOptional(REQUESTS_MAX_INFLIGHT).ifPresent(builder::setMaxInFlightRequests);
    options.getOptional(HTTP_USER_AGENT).ifPresent(builder::setHttpUserAgent);
    options.getOptional(TLS_CA_FILE).ifPresent(builder::setTlsCaCertificateFile);
    options.getOptional(BEARER_TOKEN).ifPresent(builder::setBearerToken);
    options.getOptional(HTTP_HEADERS).ifPresent(headers -> headers.forEach(builder::addHttpHeader));
    if (options.getOptional(BASIC_AUTH_USERNAME).isPresent()
        || options.getOptional(BASIC_AUTH_PASSWORD).isPresent()) {
      builder.setBasicAuth(
          options.getOptional(BASIC_AUTH_USERNAME).orElse(null),
          options.getOptional(BASIC_AUTH_PASSWORD).orElse(null));
    }
    try {
      return builder.build();
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      for (Map.Entry<String, ConfigOption<?>> name : BUILDER_NAMES.entrySet()) {
        message =
            message.replace(
                "Invalid " + name.getKey() + ":", "Invalid '" + name.getValue().key() + "':");
      }
      throw new ValidationException(message);
    }
  }

  /** The row mapping, after checking every column option against the schema. */
  static RowMapping mapping(DataType row, ReadableConfig options) {
    List<String> names = DataType.getFieldNames(row);
    List<DataType> types = DataType.getFieldDataTypes(row);
    Set<String> used = new HashSet<>();

    List<String> valueColumns = columns(options, METRIC_VALUE_COLUMNS, names, used);
    if (valueColumns.isEmpty()) {
      throw invalid(METRIC_VALUE_COLUMNS, "", "one or more numeric columns");
    }
    for (String c : valueColumns) {
      LogicalType type = types.get(names.indexOf(c)).getLogicalType();
      if (!type.is(LogicalTypeFamily.NUMERIC)) {
        throw invalid(
            METRIC_VALUE_COLUMNS,
            c + " " + type.asSummaryString(),
            "numeric columns (TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL)");
      }
    }
    String constant = options.getOptional(METRIC_NAME).orElse(null);
    String nameColumn = single(options, METRIC_NAME_COLUMN, names, used);
    if (constant != null && nameColumn != null) {
      throw new ValidationException(
          "Set 'metric.name' (a constant) or 'metric.name.column' (a STRING column), not both.");
    }
    if (nameColumn != null) {
      requireString(METRIC_NAME_COLUMN, nameColumn, types.get(names.indexOf(nameColumn)));
    }
    if (constant != null && !METRIC_NAME_PATTERN.matcher(constant).matches()) {
      throw invalid(
          METRIC_NAME, constant, "a metric name matching " + METRIC_NAME_PATTERN.pattern());
    }
    String timestampColumn = single(options, METRIC_TIMESTAMP_COLUMN, names, used);
    RowMapping.TimestampKind timestampKind = RowMapping.TimestampKind.ARRIVAL;
    RowData.FieldGetter timestamp = null;
    if (timestampColumn != null) {
      int i = names.indexOf(timestampColumn);
      LogicalType type = types.get(i).getLogicalType();
      if (type.is(LogicalTypeRoot.TIMESTAMP_WITHOUT_TIME_ZONE)
          || type.is(LogicalTypeRoot.TIMESTAMP_WITH_LOCAL_TIME_ZONE)) {
        timestampKind = RowMapping.TimestampKind.TIMESTAMP;
      } else if (type.is(LogicalTypeRoot.BIGINT)) {
        timestampKind = RowMapping.TimestampKind.EPOCH_MILLIS;
      } else {
        throw invalid(
            METRIC_TIMESTAMP_COLUMN,
            timestampColumn + " " + type.asSummaryString(),
            "a TIMESTAMP, TIMESTAMP_LTZ or BIGINT (epoch milliseconds) column");
      }
      timestamp = RowData.createFieldGetter(type, i);
    }
    List<String> labelColumns;
    if (options.getOptional(METRIC_LABEL_COLUMNS).isPresent()) {
      labelColumns = columns(options, METRIC_LABEL_COLUMNS, names, used);
      for (String c : labelColumns) {
        requireString(METRIC_LABEL_COLUMNS, c, types.get(names.indexOf(c)));
      }
    } else {
      labelColumns = new ArrayList<>();
      for (int i = 0; i < names.size(); i++) {
        if (!used.contains(names.get(i))
            && types.get(i).getLogicalType().is(LogicalTypeFamily.CHARACTER_STRING)) {
          labelColumns.add(names.get(i));
        }
      }
    }
    for (String c : labelColumns) {
      if (!LABEL_NAME_PATTERN.matcher(c).matches() || c.startsWith("__")) {
        throw invalid(
            METRIC_LABEL_COLUMNS,
            c,
            "columns whose names are label names: "
                + LABEL_NAME_PATTERN.pattern()
                + ", not starting with __");
      }
    }

    int n = valueColumns.size();
    String[] constantNames = new String[n];
    String[] suffixes = new String[n];
    RowData.FieldGetter[] values = new RowData.FieldGetter[n];
    for (int v = 0; v < n; v++) {
      String column = valueColumns.get(v);
      int i = names.indexOf(column);
      values[v] = RowData.createFieldGetter(types.get(i).getLogicalType(), i);
      suffixes[v] = n == 1 ? "" : "_" + column;
      constantNames[v] = constant == null ? column : constant + suffixes[v];
      if (nameColumn == null && !METRIC_NAME_PATTERN.matcher(constantNames[v]).matches()) {
        throw invalid(
            METRIC_VALUE_COLUMNS,
            column,
            "columns whose series names ("
                + constantNames[v]
                + ") match "
                + METRIC_NAME_PATTERN.pattern()
                + ", or set 'metric.name'");
      }
    }
    RowData.FieldGetter[] labels = new RowData.FieldGetter[labelColumns.size()];
    for (int l = 0; l < labels.length; l++) {
      int i = names.indexOf(labelColumns.get(l));
      labels[l] = RowData.createFieldGetter(types.get(i).getLogicalType(), i);
    }
    RowData.FieldGetter name = null;
    if (nameColumn != null) {
      int i = names.indexOf(nameColumn);
      name = RowData.createFieldGetter(types.get(i).getLogicalType(), i);
    }
    return new RowMapping(
        values,
        constantNames,
        name,
        suffixes,
        labelColumns.toArray(new String[0]),
        labels,
        timestampKind,
        timestamp);
  }

  /** The columns an option lists (comma-separated), each existing and used once. */
  private static List<String> columns(
      ReadableConfig options, ConfigOption<String> option, List<String> names, Set<String> used) {
    List<String> columns =
        Arrays.stream(options.getOptional(option).orElse("").split(","))
            .map(String::trim)
            .filter(c -> !c.isEmpty())
            .collect(Collectors.toList());
    for (String c : columns) {
      if (!names.contains(c)) {
        throw invalid(option, c, "columns of the table: " + String.join(", ", names));
      }
      if (!used.add(c)) {
        throw invalid(
            option,
            c,
            "a column used once (in one of metric.value.columns, metric.label.columns,"
                + " metric.name.column, metric.timestamp.column, and once there)");
      }
    }
    return columns;
  }

  /** The one column an option names, or null. */
  private static String single(
      ReadableConfig options, ConfigOption<String> option, List<String> names, Set<String> used) {
    if (!options.getOptional(option).isPresent()) {
      return null;
    }
    List<String> columns = columns(options, option, names, used);
    if (columns.size() != 1) {
      throw invalid(option, options.get(option), "one column");
    }
    return columns.get(0);
  }

  private static void requireString(ConfigOption<String> option, String column, DataType type) {
    if (!type.getLogicalType().is(LogicalTypeFamily.CHARACTER_STRING)) {
      throw invalid(
          option,
          column + " " + type.getLogicalType().asSummaryString(),
          "STRING (CHAR or VARCHAR) columns");
    }
  }

  private static ValidationException invalid(ConfigOption<?> option, String value, String allowed) {
    return new ValidationException(
        "Invalid '" + option.key() + "': " + value + "; allowed: " + allowed);
  }
}
