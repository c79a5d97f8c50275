package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.promsink.flink.internal.jni.NativeException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.Test;

/** The writer's own life cycle, outside a job. */
class PrometheusSinkWriterTest {

  /** Java threads of native sending lanes ({@code promsink-sender-N.M}) alive now. */
  private static long senderThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("promsink-sender-") && t.isAlive())
        .count();
  }

  /** A writer context whose metric group refuses the sink's group (a closed registry). */
  private static WriterInitContext contextWhoseMetricsFail() {
    SinkWriterMetricGroup real = UnregisteredMetricsGroup.createSinkWriterMetricGroup();
    SinkWriterMetricGroup refusing =
        (SinkWriterMetricGroup)
            Proxy.newProxyInstance(
                SinkWriterMetricGroup.class.getClassLoader(),
                new Class<?>[] {SinkWriterMetricGroup.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("addGroup")) {
                    throw new IllegalStateException("metric registry closed");
                  }
                  try {
                    return method.invoke(real, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    return (WriterInitContext)
        Proxy.newProxyInstance(
            WriterInitContext.class.getClassLoader(),
            new Class<?>[] {WriterInitContext.class},
            (proxy, method, args) -> method.getName().equals("metricGroup") ? refusing : null);
  }

  @Test
  void aWriterWhoseConstructorFailsClosesItsNativeClient() throws Exception {
    PrometheusSink sink =
        (PrometheusSink)
            PrometheusSink.builder()
                .setPrometheusRemoteWriteUrl("http://127.0.0.1:1/api/v1/write")
                .setSendingLanes(4)
                .setAdaptiveSendingLanes(false) // all four lanes in use: four threads started
                .build();
    long before = senderThreads();
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> sink.createWriter(contextWhoseMetricsFail()))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("metric registry closed");
    }
    // Four lanes per writer were started and attached to the JVM; every one was stopped.
    assertThat(senderThreads()).isEqualTo(before);
  }

  @Test
  void aConfigurationTheNativeClientRefusesFailsTheWriterWithAPublicException() {
    PrometheusSink sink =
        (PrometheusSink)
            PrometheusSink.builder()
                .setPrometheusRemoteWriteUrl("https://127.0.0.1:1/api/v1/write")
                .setTlsCaCertificateFile("/nonexistent/promsink-ca.pem") // read by the writer
                .build();
    SinkWriterMetricGroup metrics = UnregisteredMetricsGroup.createSinkWriterMetricGroup();
    WriterInitContext context =
        (WriterInitContext)
            Proxy.newProxyInstance(
                WriterInitContext.class.getClassLoader(),
                new Class<?>[] {WriterInitContext.class},
                (proxy, method, args) -> method.getName().equals("metricGroup") ? metrics : null);
    long before = senderThreads();
    assertThatThrownBy(() -> sink.createWriter(context))
        .isExactlyInstanceOf(PrometheusSinkException.class)
        .hasMessageStartingWith(
            "promsink could not start its sink writer: invalid configuration: tls.ca_file"
                + " \"/nonexistent/promsink-ca.pem\" cannot be read: ")
        .cause()
        .isExactlyInstanceOf(NativeException.class)
        .satisfies(e -> assertThat(((NativeException) e).code()).isEqualTo(2));
    assertThat(senderThreads()).isEqualTo(before);
  }
}
