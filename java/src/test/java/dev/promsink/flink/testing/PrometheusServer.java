package dev.promsink.flink.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.TestBatchEncoder;
import dev.promsink.flink.internal.jni.BatchCallback;
import dev.promsink.flink.internal.jni.NativeClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A Prometheus with the Remote-Write receiver enabled: the Debian {@code prometheus} binary (2.42,
 * Remote-Write 1.0), or Prometheus 3 ({@link #version3()}, Remote-Write 1.0 and 2.0).
 */
public final class PrometheusServer extends ReceiverProcess {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The user that {@link #withBasicAuth()} accepts. */
  public static final String BASIC_AUTH_USER = "promsink";

  /** The password that {@link #withBasicAuth()} accepts. */
  public static final String BASIC_AUTH_PASSWORD = "promsink-test-password";

  /** bcrypt (cost 4) of {@link #BASIC_AUTH_PASSWORD}, as Prometheus's web config wants it. */
  private static final String BASIC_AUTH_BCRYPT =
      "$2b$04$8RHP8oyDc3gxIYW8slIY9uhiQ3gDOEJ06vdq/qwCa0L7nE8qqsqZO";

  /** Where scripts/test.sh says the Prometheus 3 binary is (scripts/prometheus3.sh builds it). */
  public static final String PROMETHEUS3_ENV = "PROMSINK_PROMETHEUS3";

  public PrometheusServer() {
    this("prometheus", null, null);
  }

  private PrometheusServer(String name, TestCertificates tls, String authorization) {
    super(name, tls, authorization);
    if (tls == null && authorization == null) {
      prime();
    }
  }

  /** The metric of the one sample {@link #prime()} writes into every fresh plain server. */
  public static final String PRIMING_METRIC = "promsink_test_priming";

  /**
   * Writes one sample (its own series, two hours old) before any job writes. A fresh Prometheus
   * sets its head's first and last time in two steps, and a request of another writer that arrives
   * between them is refused whole as "out of bounds" (seen with two sink writers sending their
   * first requests at once); after this write, the head is set up.
   */
  private void prime() {
    PrometheusTimeSeries series =
        PrometheusTimeSeries.builder()
            .withMetricName(PRIMING_METRIC)
            .addSample(1.0, System.currentTimeMillis() - TimeUnit.HOURS.toMillis(2))
            .build();
    ByteBuffer batch = new TestBatchEncoder().encode(List.of(series));
    CompletableFuture<String> done = new CompletableFuture<>();
    try (NativeClient client = NativeClient.create(Map.of("url", writeUrl()))) {
      client.submit(
          batch,
          batch.limit(),
          (outcome, message, status, body, is, isa, first, counters, lanes) ->
              done.complete(outcome == BatchCallback.WRITTEN ? "written" : message));
      String result = done.get(60, TimeUnit.SECONDS);
      if (!result.equals("written")) {
        throw new IllegalStateException("priming sample not written: " + result);
      }
    } catch (InterruptedException | ExecutionException | TimeoutException e) {
      throw new IllegalStateException("priming sample not written", e);
    }
  }

  /** A Prometheus 3 accepting Remote-Write 1.0 and 2.0. */
  public static PrometheusServer version3() {
    return new PrometheusServer("prometheus3", null, null);
  }

  private static String prometheus3Binary() {
    String binary = System.getenv(PROMETHEUS3_ENV);
    if (binary == null || !Files.isExecutable(Path.of(binary))) {
      throw new IllegalStateException(
          PROMETHEUS3_ENV
              + " must name the Prometheus 3 binary (export "
              + PROMETHEUS3_ENV
              + "=$(scripts/prometheus3.sh)); it is "
              + binary);
    }
    return binary;
  }

  /** A Prometheus serving HTTPS with the server certificate of {@code tls}. */
  public PrometheusServer(TestCertificates tls) {
    this("prometheus", tls, null);
  }

  private PrometheusServer(String authorization) {
    this("prometheus", null, authorization);
  }

  /** A Prometheus that requires basic auth ({@link #BASIC_AUTH_USER}) on every endpoint. */
  public static PrometheusServer withBasicAuth() {
    String credentials = BASIC_AUTH_USER + ":" + BASIC_AUTH_PASSWORD;
    return new PrometheusServer(
        "Basic "
            + java.util.Base64.getEncoder()
                .encodeToString(credentials.getBytes(StandardCharsets.UTF_8)));
  }

  @Override
  protected List<String> command(Path dir, int port) throws IOException {
    Path config = dir.resolve("prometheus.yml");
    Files.writeString(config, "global:\n  scrape_interval: 1h\n");
    List<String> command =
        new ArrayList<>(
            Arrays.asList(
                name.equals("prometheus3") ? prometheus3Binary() : "prometheus",
                "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + port,
                "--web.enable-remote-write-receiver",
                "--log.level=warn"));
    if (name.equals("prometheus3")) {
      command.add("--web.remote-write-receiver.accepted-protobuf-messages=prometheus.WriteRequest");
      command.add(
          "--web.remote-write-receiver.accepted-protobuf-messages=io.prometheus.write.v2.Request");
    }
    StringBuilder web = new StringBuilder();
    TestCertificates certificates = tls();
    if (certificates != null) {
      web.append("tls_server_config:\n  cert_file: ")
          .append(certificates.serverCertificate)
          .append("\n  key_file: ")
          .append(certificates.serverKey)
          .append("\n");
    }
    if (requiresAuthorization()) {
      web.append("basic_auth_users:\n  ")
          .append(BASIC_AUTH_USER)
          .append(": ")
          .append(BASIC_AUTH_BCRYPT)
          .append("\n");
    }
    if (web.length() > 0) {
      Path file = dir.resolve("web.yml");
      Files.writeString(file, web.toString());
      command.add("--web.config.file=" + file);
    }
    return command;
  }

  @Override
  protected String readyPath() {
    return "/-/ready";
  }

  /** Every raw sample of the last {@code window} (e.g. "1h") matching {@code selector}. */
  public Samples rawSamples(String selector, String window) {
    try {
      String query = URLEncoder.encode(selector + "[" + window + "]", StandardCharsets.UTF_8);
      JsonNode root = JSON.readTree(get("/api/v1/query?query=" + query));
      Samples out = new Samples();
      for (JsonNode series : root.path("data").path("result")) {
        Map<String, String> labels = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = series.path("metric").fields();
        while (it.hasNext()) {
          Map.Entry<String, JsonNode> e = it.next();
          labels.put(e.getKey(), e.getValue().asText());
        }
        for (JsonNode point : series.path("values")) {
          long ts = new BigDecimal(point.get(0).asText()).movePointRight(3).longValueExact();
          out.add(labels, ts, Double.parseDouble(point.get(1).asText()));
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
