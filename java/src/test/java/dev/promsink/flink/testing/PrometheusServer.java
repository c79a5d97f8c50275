package dev.promsink.flink.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The Debian {@code prometheus} binary with the Remote-Write receiver enabled. */
public final class PrometheusServer extends ReceiverProcess {
  private static final ObjectMapper JSON = new ObjectMapper();

  public PrometheusServer() {
    this(null);
  }

  /** A Prometheus serving HTTPS with the server certificate of {@code tls}. */
  public PrometheusServer(TestCertificates tls) {
    super("prometheus", tls);
  }

  @Override
  protected List<String> command(Path dir, int port) throws IOException {
    Path config = dir.resolve("prometheus.yml");
    Files.writeString(config, "global:\n  scrape_interval: 1h\n");
    List<String> command =
        new ArrayList<>(
            Arrays.asList(
                "prometheus",
                "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + port,
                "--web.enable-remote-write-receiver",
                "--log.level=warn"));
    TestCertificates certificates = tls();
    if (certificates != null) {
      Path web = dir.resolve("web.yml");
      Files.writeString(
          web,
          "tls_server_config:\n  cert_file: "
              + certificates.serverCertificate
              + "\n  key_file: "
              + certificates.serverKey
              + "\n");
      command.add("--web.config.file=" + web);
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
