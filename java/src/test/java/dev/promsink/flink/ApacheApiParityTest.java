package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.promsink.flink.PrometheusSinkConfiguration.OnErrorBehavior;
import dev.promsink.flink.PrometheusSinkConfiguration.RetryConfiguration;
import dev.promsink.flink.PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The public API a user of Apache's Prometheus connector 1.0.0 calls exists here with the same
 * signature (listed from {@code javap -public} on Apache's jar, with its package replaced), so that
 * switching is a change of imports. Where the signatures differ on purpose, the entry says so and
 * {@code docs/migration.md} explains it.
 */
class ApacheApiParityTest {
  private static final String URL = "http://127.0.0.1:9090/api/v1/write";

  /** Apache's user-facing public constructors and methods, as "Class.member(params) return". */
  private static final List<String> APACHE_SIGNATURES =
      List.of(
          "PrometheusRequestSigner.addSignatureHeaders(Map,byte[]) void",
          "PrometheusSink.builder() PrometheusSinkBuilder",
          "PrometheusSinkBuilder.<init>()",
          // Apache's build() returns AsyncSinkBase<PrometheusTimeSeries, Types.TimeSeries>.
          "PrometheusSinkBuilder.build() PrometheusSink",
          "PrometheusSinkBuilder.setPrometheusRemoteWriteUrl(String) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setRequestSigner(PrometheusRequestSigner) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setMaxBatchSizeInSamples(int) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setMaxRecordSizeInSamples(int) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setRetryConfiguration(PrometheusSinkConfiguration.RetryConfiguration)"
              + " PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setSocketTimeoutMs(int) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setHttpUserAgent(String) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setErrorHandlingBehaviorConfiguration("
              + "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration)"
              + " PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setMetricGroupName(String) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setMaxBatchSize(int) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setMaxBatchSizeInBytes(long) PrometheusSinkBuilder",
          "PrometheusSinkBuilder.setMaxRecordSizeInBytes(long) PrometheusSinkBuilder",
          // Inherited from Flink's AsyncSinkBaseBuilder, as in Apache's connector.
          "PrometheusSinkBuilder.setMaxBufferedRequests(int) AsyncSinkBaseBuilder",
          "PrometheusSinkBuilder.setMaxTimeInBufferMS(long) AsyncSinkBaseBuilder",
          "PrometheusSinkBuilder.setMaxInFlightRequests(int) PrometheusSinkBuilder",
          "PrometheusSinkConfiguration.<init>()",
          "PrometheusSinkConfiguration.OnErrorBehavior.values()"
              + " PrometheusSinkConfiguration.OnErrorBehavior[]",
          "PrometheusSinkConfiguration.OnErrorBehavior.valueOf(String)"
              + " PrometheusSinkConfiguration.OnErrorBehavior",
          "PrometheusSinkConfiguration.RetryConfiguration.<init>(long,long,int)",
          "PrometheusSinkConfiguration.RetryConfiguration.getInitialRetryDelayMS() long",
          "PrometheusSinkConfiguration.RetryConfiguration.getMaxRetryDelayMS() long",
          "PrometheusSinkConfiguration.RetryConfiguration.getMaxRetryCount() int",
          "PrometheusSinkConfiguration.RetryConfiguration.builder()"
              + " PrometheusSinkConfiguration.RetryConfiguration.Builder",
          "PrometheusSinkConfiguration.RetryConfiguration.Builder.<init>()",
          "PrometheusSinkConfiguration.RetryConfiguration.Builder.setInitialRetryDelayMS(long)"
              + " PrometheusSinkConfiguration.RetryConfiguration.Builder",
          "PrometheusSinkConfiguration.RetryConfiguration.Builder.setMaxRetryDelayMS(long)"
              + " PrometheusSinkConfiguration.RetryConfiguration.Builder",
          "PrometheusSinkConfiguration.RetryConfiguration.Builder.setMaxRetryCount(int)"
              + " PrometheusSinkConfiguration.RetryConfiguration.Builder",
          "PrometheusSinkConfiguration.RetryConfiguration.Builder.build()"
              + " PrometheusSinkConfiguration.RetryConfiguration",
          "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.<init>("
              + "PrometheusSinkConfiguration.OnErrorBehavior,"
              + "PrometheusSinkConfiguration.OnErrorBehavior)",
          "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration"
              + ".getOnMaxRetryExceeded() PrometheusSinkConfiguration.OnErrorBehavior",
          "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration"
              + ".getOnPrometheusNonRetryableError() PrometheusSinkConfiguration.OnErrorBehavior",
          "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.builder()"
              + " PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.Builder",
          "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.Builder.<init>()",
          "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.Builder"
              + ".onMaxRetryExceeded(PrometheusSinkConfiguration.OnErrorBehavior)"
              + " PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.Builder",
          "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.Builder"
              + ".onPrometheusNonRetryableError(PrometheusSinkConfiguration.OnErrorBehavior)"
              + " PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.Builder",
          "PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration.Builder.build()"
              + " PrometheusSinkConfiguration.SinkWriterErrorHandlingBehaviorConfiguration",
          "PrometheusSinkException.<init>(String)",
          "PrometheusSinkException.<init>(String,Throwable)",
          // Apache's is in the subpackage errorhandling.
          "PrometheusSinkWriteException.<init>(String)",
          // Apache's takes an Exception: every call to it compiles against this one.
          "PrometheusSinkWriteException.<init>(String,Throwable)",
          "PrometheusSinkWriteException.<init>(String,int,String,int,long,String)",
          "PrometheusTimeSeries.<init>(String,PrometheusTimeSeries.Label[],"
              + "PrometheusTimeSeries.Sample[])",
          "PrometheusTimeSeries.getLabels() PrometheusTimeSeries.Label[]",
          "PrometheusTimeSeries.getSamples() PrometheusTimeSeries.Sample[]",
          "PrometheusTimeSeries.getMetricName() String",
          "PrometheusTimeSeries.builder() PrometheusTimeSeries.Builder",
          "PrometheusTimeSeries.builderFrom(PrometheusTimeSeries) PrometheusTimeSeries.Builder",
          "PrometheusTimeSeries.equals(Object) boolean",
          "PrometheusTimeSeries.hashCode() int",
          "PrometheusTimeSeries.Builder.withMetricName(String) PrometheusTimeSeries.Builder",
          "PrometheusTimeSeries.Builder.addLabel(String,String) PrometheusTimeSeries.Builder",
          "PrometheusTimeSeries.Builder.addSample(double,long) PrometheusTimeSeries.Builder",
          "PrometheusTimeSeries.Builder.build() PrometheusTimeSeries",
          "PrometheusTimeSeries.Label.<init>(String,String)",
          "PrometheusTimeSeries.Label.getName() String",
          "PrometheusTimeSeries.Label.getValue() String",
          "PrometheusTimeSeries.Label.equals(Object) boolean",
          "PrometheusTimeSeries.Label.hashCode() int",
          "PrometheusTimeSeries.Sample.<init>(double,long)",
          "PrometheusTimeSeries.Sample.getValue() double",
          "PrometheusTimeSeries.Sample.getTimestamp() long",
          "PrometheusTimeSeries.Sample.equals(Object) boolean",
          "PrometheusTimeSeries.Sample.hashCode() int",
          "PrometheusTimeSeriesLabelsAndMetricNameKeySelector.<init>()",
          "PrometheusTimeSeriesLabelsAndMetricNameKeySelector.getKey(PrometheusTimeSeries) Integer");

  private static final List<Class<?>> OUR_CLASSES =
      List.of(
          PrometheusRequestSigner.class,
          PrometheusSink.class,
          PrometheusSinkBuilder.class,
          PrometheusSinkConfiguration.class,
          OnErrorBehavior.class,
          RetryConfiguration.class,
          RetryConfiguration.Builder.class,
          SinkWriterErrorHandlingBehaviorConfiguration.class,
          SinkWriterErrorHandlingBehaviorConfiguration.Builder.class,
          PrometheusSinkException.class,
          PrometheusSinkWriteException.class,
          PrometheusTimeSeries.class,
          PrometheusTimeSeries.Builder.class,
          PrometheusTimeSeries.Label.class,
          PrometheusTimeSeries.Sample.class,
          PrometheusTimeSeriesLabelsAndMetricNameKeySelector.class);

  /** A type's name without its package, nested types joined with '.'. */
  private static String name(Class<?> type) {
    if (type.isArray()) {
      return name(type.getComponentType()) + "[]";
    }
    String full = type.getName();
    int dot = full.lastIndexOf('.');
    return (dot < 0 ? full : full.substring(dot + 1)).replace('$', '.');
  }

  private static String params(Class<?>[] types) {
    return Arrays.stream(types).map(ApacheApiParityTest::name).collect(Collectors.joining(","));
  }

  /** Our public constructors and methods in the format of {@link #APACHE_SIGNATURES}. */
  private static Set<String> ourSignatures() {
    Set<String> out = new TreeSet<>();
    for (Class<?> c : OUR_CLASSES) {
      assertThat(Modifier.isPublic(c.getModifiers())).as(name(c)).isTrue();
      for (Constructor<?> k : c.getConstructors()) {
        out.add(name(c) + ".<init>(" + params(k.getParameterTypes()) + ")");
      }
      for (Method m : c.getMethods()) {
        if (!m.isBridge()) {
          out.add(
              name(c)
                  + "."
                  + m.getName()
                  + "("
                  + params(m.getParameterTypes())
                  + ") "
                  + name(m.getReturnType()));
        }
      }
    }
    return out;
  }

  @Test
  void everyPublicMemberOfApachesConnectorAUserCallsExistsWithTheSameSignature() {
    Set<String> ours = ourSignatures();
    List<String> missing = new ArrayList<>();
    for (String s : APACHE_SIGNATURES) {
      if (!ours.contains(s)) {
        missing.add(s);
      }
    }
    assertThat(missing).isEmpty();
    assertThat(APACHE_SIGNATURES).hasSize(69).doesNotHaveDuplicates();
  }

  @Test
  void theRetryConfigurationConstructorKeepsItsValues() {
    RetryConfiguration r = new RetryConfiguration(10, 2000, 7);
    assertThat(r.getInitialRetryDelayMS()).isEqualTo(10);
    assertThat(r.getMaxRetryDelayMS()).isEqualTo(2000);
    assertThat(r.getMaxRetryCount()).isEqualTo(7);
    assertThat(r)
        .isEqualTo(
            RetryConfiguration.builder()
                .setInitialRetryDelayMS(10)
                .setMaxRetryDelayMS(2000)
                .setMaxRetryCount(7)
                .build());
    assertThat(r.toString())
        .isEqualTo(
            "RetryConfiguration{initialRetryDelayMS=10, maxRetryDelayMS=2000, maxRetryCount=7}");
  }

  @Test
  void aNewRetryBuilderStartsFromApachesDefaults() {
    RetryConfiguration r = new RetryConfiguration.Builder().build();
    assertThat(r.getInitialRetryDelayMS()).isEqualTo(30);
    assertThat(r.getMaxRetryDelayMS()).isEqualTo(5000);
    assertThat(r.getMaxRetryCount()).isEqualTo(100);
    assertThat(r).isEqualTo(RetryConfiguration.DEFAULT_RETRY_CONFIGURATION);
    assertThat(RetryConfiguration.DEFAULT_INITIAL_RETRY_DELAY_MS).isEqualTo(30L);
    assertThat(RetryConfiguration.DEFAULT_MAX_RETRY_DELAY_MS).isEqualTo(5000L);
    assertThat(RetryConfiguration.DEFAULT_MAX_RETRY_COUNT).isEqualTo(100);
  }

  @Test
  void theErrorHandlingConstructorAndBuilderKeepTheirValues() {
    SinkWriterErrorHandlingBehaviorConfiguration c =
        new SinkWriterErrorHandlingBehaviorConfiguration(
            OnErrorBehavior.DISCARD_AND_CONTINUE, OnErrorBehavior.DISCARD_AND_CONTINUE);
    assertThat(c.getOnMaxRetryExceeded()).isEqualTo(OnErrorBehavior.DISCARD_AND_CONTINUE);
    assertThat(c.getOnPrometheusNonRetryableError())
        .isEqualTo(OnErrorBehavior.DISCARD_AND_CONTINUE);
    assertThat(
            new SinkWriterErrorHandlingBehaviorConfiguration.Builder()
                .onMaxRetryExceeded(OnErrorBehavior.DISCARD_AND_CONTINUE)
                .build())
        .isEqualTo(c);
    SinkWriterErrorHandlingBehaviorConfiguration defaults =
        new SinkWriterErrorHandlingBehaviorConfiguration.Builder().build();
    assertThat(defaults.getOnMaxRetryExceeded()).isEqualTo(OnErrorBehavior.FAIL);
    assertThat(defaults.getOnPrometheusNonRetryableError())
        .isEqualTo(OnErrorBehavior.DISCARD_AND_CONTINUE);
    assertThat(defaults).isEqualTo(SinkWriterErrorHandlingBehaviorConfiguration.DEFAULT_BEHAVIORS);
  }

  @Test
  void configurationValuesAreCheckedWhenTheSinkIsBuiltNamingTheOption() {
    // Apache's constructors throw at once; here the sink builder names the option and the range.
    RetryConfiguration zeroDelay = new RetryConfiguration(0, 5000, 100);
    assertThatThrownBy(
            () ->
                new PrometheusSinkBuilder()
                    .setPrometheusRemoteWriteUrl(URL)
                    .setRetryConfiguration(zeroDelay)
                    .build())
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "Invalid RetryConfiguration.setInitialRetryDelayMS: 0; allowed: 1 to "
                + Long.MAX_VALUE);
    SinkWriterErrorHandlingBehaviorConfiguration failOnNonRetryable =
        new SinkWriterErrorHandlingBehaviorConfiguration(
            OnErrorBehavior.FAIL, OnErrorBehavior.FAIL);
    assertThatThrownBy(
            () ->
                new PrometheusSinkBuilder()
                    .setPrometheusRemoteWriteUrl(URL)
                    .setErrorHandlingBehaviorConfiguration(failOnNonRetryable)
                    .build())
        .isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("Invalid onPrometheusNonRetryableError: FAIL; allowed: ");
  }

  @Test
  void aNewSinkBuilderIsTheSameAsTheFactoryMethod() {
    PrometheusSink viaConstructor =
        new PrometheusSinkBuilder()
            .setPrometheusRemoteWriteUrl(URL)
            .setMaxBatchSizeInSamples(300)
            .build();
    PrometheusSink viaFactory =
        PrometheusSink.builder()
            .setPrometheusRemoteWriteUrl(URL)
            .setMaxBatchSizeInSamples(300)
            .build();
    assertThat(viaConstructor.toString()).isEqualTo(viaFactory.toString());
    assertThat(viaConstructor.toString()).startsWith("PrometheusSink{maxBatchSizeInSamples=300,");
  }

  @Test
  void theSinkExceptionKeepsMessageAndCause() {
    IllegalStateException cause = new IllegalStateException("why");
    PrometheusSinkException e = new PrometheusSinkException("what", cause);
    assertThat(e).hasMessage("what").hasCause(cause).isInstanceOf(RuntimeException.class);
    assertThat(new PrometheusSinkException("only")).hasMessage("only").hasNoCause();
    assertThat(PrometheusSinkWriteException.class.getSuperclass())
        .isEqualTo(RuntimeException.class);
  }

  @Test
  void theUnsupportedByteSettersThrowAsInApachesConnector() {
    assertThatThrownBy(() -> new PrometheusSinkBuilder().setMaxBatchSize(10))
        .isExactlyInstanceOf(UnsupportedOperationException.class)
        .hasMessage("setMaxBatchSize is not supported: use setMaxBatchSizeInSamples");
    assertThatThrownBy(() -> new PrometheusSinkBuilder().setMaxBatchSizeInBytes(10))
        .isExactlyInstanceOf(UnsupportedOperationException.class)
        .hasMessage("setMaxBatchSizeInBytes is not supported: use setMaxBatchSizeInSamples");
    assertThatThrownBy(() -> new PrometheusSinkBuilder().setMaxRecordSizeInBytes(10))
        .isExactlyInstanceOf(UnsupportedOperationException.class)
        .hasMessage("setMaxRecordSizeInBytes is not supported: use setMaxRecordSizeInSamples");
  }
}
