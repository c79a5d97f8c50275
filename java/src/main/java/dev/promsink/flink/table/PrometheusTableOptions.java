package dev.promsink.flink.table;

import dev.promsink.flink.PrometheusSinkBuilder;
import dev.promsink.flink.PrometheusSinkConfiguration.OnErrorBehavior;
import dev.promsink.flink.PrometheusSinkConfiguration.RetryConfiguration;
import dev.promsink.flink.RemoteWriteVersion;
import java.time.Duration;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

/**
 * The options of {@code 'connector' = 'prometheus-native'}: the row mapping, and every option of
 * {@link PrometheusSinkBuilder} under Flink's names, with the builder's defaults. Options that hold
 * secrets have names Flink hides when it prints table options ({@code password}, {@code token},
 * {@code http-headers}).
 */
public final class PrometheusTableOptions {
  private PrometheusTableOptions() {}

  public static final ConfigOption<String> URL =
      ConfigOptions.key("url")
          .stringType()
          .noDefaultValue()
          .withDescription("The Remote-Write endpoint, http:// or https://.");

  public static final ConfigOption<String> METRIC_VALUE_COLUMNS =
      ConfigOptions.key("metric.value.columns")
          .stringType()
          .noDefaultValue()
          .withDescription(
              "Comma-separated numeric columns; each becomes a series per row, named after its"
                  + " column, or <metric.name>_<column>.");

  public static final ConfigOption<String> METRIC_NAME =
      ConfigOptions.key("metric.name")
          .stringType()
          .noDefaultValue()
          .withDescription("A constant metric name (not with metric.name.column).");

  public static final ConfigOption<String> METRIC_NAME_COLUMN =
      ConfigOptions.key("metric.name.column")
          .stringType()
          .noDefaultValue()
          .withDescription("A STRING column holding the metric name (not with metric.name).");

  public static final ConfigOption<String> METRIC_LABEL_COLUMNS =
      ConfigOptions.key("metric.label.columns")
          .stringType()
          .noDefaultValue()
          .withDescription(
              "Comma-separated STRING columns that become labels; default: every STRING column"
                  + " not used otherwise.");

  public static final ConfigOption<String> METRIC_TIMESTAMP_COLUMN =
      ConfigOptions.key("metric.timestamp.column")
          .stringType()
          .noDefaultValue()
          .withDescription(
              "A TIMESTAMP, TIMESTAMP_LTZ or BIGINT (epoch milliseconds) column; default: the"
                  + " time the row reaches the sink.");

  public static final ConfigOption<Integer> BATCH_MAX_SAMPLES =
      ConfigOptions.key("sink.batch.max-samples")
          .intType()
          .defaultValue(PrometheusSinkBuilder.DEFAULT_MAX_BATCH_SIZE_IN_SAMPLES)
          .withDescription("Max samples per batch and per write request.");

  public static final ConfigOption<Integer> RECORD_MAX_SAMPLES =
      ConfigOptions.key("sink.record.max-samples")
          .intType()
          .noDefaultValue()
          .withDescription("Max samples per record (default: sink.batch.max-samples).");

  public static final ConfigOption<Integer> REQUESTS_MAX_BUFFERED =
      ConfigOptions.key("sink.requests.max-buffered")
          .intType()
          .defaultValue(PrometheusSinkBuilder.DEFAULT_MAX_BUFFERED_REQUESTS)
          .withDescription("Max records buffered per writer before it blocks.");

  public static final ConfigOption<Integer> REQUESTS_MAX_INFLIGHT =
      ConfigOptions.key("sink.requests.max-inflight")
          .intType()
          .noDefaultValue()
          .withDescription("Batches in flight per writer (default: 3 x sink.lanes, 1 with one).");

  public static final ConfigOption<Duration> FLUSH_BUFFER_TIMEOUT =
      ConfigOptions.key("sink.flush-buffer.timeout")
          .durationType()
          .defaultValue(Duration.ofMillis(PrometheusSinkBuilder.DEFAULT_MAX_TIME_IN_BUFFER_MS))
          .withDescription("Max time a record waits in the buffer.");

  public static final ConfigOption<Duration> REQUEST_LINGER =
      ConfigOptions.key("sink.request.linger")
          .durationType()
          .defaultValue(Duration.ofMillis(PrometheusSinkBuilder.DEFAULT_REQUEST_LINGER_MS))
          .withDescription("How long a request that is not full waits for more series (0 to 1 s).");

  public static final ConfigOption<Duration> RETRY_INITIAL_DELAY =
      ConfigOptions.key("sink.retry.initial-delay")
          .durationType()
          .defaultValue(Duration.ofMillis(RetryConfiguration.DEFAULT_INITIAL_RETRY_DELAY_MS))
          .withDescription("Backoff before the first retry (doubled for each next one).");

  public static final ConfigOption<Duration> RETRY_MAX_DELAY =
      ConfigOptions.key("sink.retry.max-delay")
          .durationType()
          .defaultValue(Duration.ofMillis(RetryConfiguration.DEFAULT_MAX_RETRY_DELAY_MS))
          .withDescription("Largest backoff between retries.");

  public static final ConfigOption<Integer> RETRY_MAX_COUNT =
      ConfigOptions.key("sink.retry.max-count")
          .intType()
          .defaultValue(RetryConfiguration.DEFAULT_MAX_RETRY_COUNT)
          .withDescription("Retries of a request before sink.error.on-max-retry-exceeded.");

  public static final ConfigOption<OnErrorBehavior> ON_MAX_RETRY_EXCEEDED =
      ConfigOptions.key("sink.error.on-max-retry-exceeded")
          .enumType(OnErrorBehavior.class)
          .defaultValue(OnErrorBehavior.FAIL)
          .withDescription("FAIL the job, or DISCARD_AND_CONTINUE (drop the request, counted).");

  public static final ConfigOption<Duration> SOCKET_TIMEOUT =
      ConfigOptions.key("sink.socket-timeout")
          .durationType()
          .defaultValue(Duration.ofMillis(PrometheusSinkBuilder.DEFAULT_SOCKET_TIMEOUT_MS))
          .withDescription("Connect, read and name-resolution timeout of each attempt (0: none).");

  public static final ConfigOption<String> HTTP_USER_AGENT =
      ConfigOptions.key("sink.http.user-agent")
          .stringType()
          .noDefaultValue()
          .withDescription("The User-Agent header (default: promsink/<version>).");

  public static final ConfigOption<Map<String, String>> HTTP_HEADERS =
      ConfigOptions.key("sink.http-headers")
          .mapType()
          .noDefaultValue()
          .withDescription("Extra headers, 'Name:value,Name2:value2' (e.g. X-Scope-OrgID).");

  public static final ConfigOption<String> METRIC_GROUP_NAME =
      ConfigOptions.key("sink.metric-group-name")
          .stringType()
          .defaultValue(PrometheusSinkBuilder.DEFAULT_METRIC_GROUP_NAME)
          .withDescription("The metric group holding the sink's counters.");

  public static final ConfigOption<Integer> LANES =
      ConfigOptions.key("sink.lanes")
          .intType()
          .defaultValue(PrometheusSinkBuilder.DEFAULT_SENDING_LANES)
          .withDescription("Sending lanes per writer, 1 to 64.");

  public static final ConfigOption<Boolean> LANES_ADAPTIVE =
      ConfigOptions.key("sink.lanes.adaptive")
          .booleanType()
          .defaultValue(true)
          .withDescription("Whether the lanes in use adapt to the receiver.");

  public static final ConfigOption<RemoteWriteVersion> REMOTE_WRITE_VERSION =
      ConfigOptions.key("sink.remote-write.version")
          .enumType(RemoteWriteVersion.class)
          .defaultValue(RemoteWriteVersion.V1)
          .withDescription("V1 (Remote-Write 1.0) or V2 (2.0, falls back to 1.0 if refused).");

  public static final ConfigOption<String> TLS_CA_FILE =
      ConfigOptions.key("sink.tls.ca-file")
          .stringType()
          .noDefaultValue()
          .withDescription("PEM file of the CA certificates to trust (default: Mozilla's roots).");

  public static final ConfigOption<String> BASIC_AUTH_USERNAME =
      ConfigOptions.key("sink.auth.basic.username")
          .stringType()
          .noDefaultValue()
          .withDescription("Basic authentication user (with sink.auth.basic.password).");

  public static final ConfigOption<String> BASIC_AUTH_PASSWORD =
      ConfigOptions.key("sink.auth.basic.password")
          .stringType()
          .noDefaultValue()
          .withDescription("Basic authentication password (hidden in logs).");

  public static final ConfigOption<String> BEARER_TOKEN =
      ConfigOptions.key("sink.auth.bearer-token")
          .stringType()
          .noDefaultValue()
          .withDescription("Bearer token (hidden in logs).");
}
