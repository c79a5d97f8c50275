package dev.promsink.flink.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The Debian {@code victoria-metrics} binary. */
public final class VictoriaMetricsServer extends ReceiverProcess {
  private static final ObjectMapper JSON = new ObjectMapper();

  public VictoriaMetricsServer() {
    super("victoria-metrics");
  }

  @Override
  protected List<String> command(Path dir, int port) {
    return Arrays.asList(
        "victoria-metrics",
        "-httpListenAddr=127.0.0.1:" + port,
        "-storageDataPath=" + dir.resolve("data"),
        "-loggerLevel=WARN");
  }

  @Override
  protected String readyPath() {
    return "/health";
  }

  /** Every raw sample matching {@code selector}, after flushing recent writes to storage. */
  public Samples rawSamples(String selector) {
    try {
      get("/internal/force_flush");
      String match = URLEncoder.encode(selector, StandardCharsets.UTF_8);
      String body = get("/api/v1/export?match[]=" + match);
      Samples out = new Samples();
      for (String line : body.split("\n")) {
        if (line.isBlank()) {
          continue;
        }
        JsonNode series = JSON.readTree(line);
        Map<String, String> labels = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = series.path("metric").fields();
        while (it.hasNext()) {
          Map.Entry<String, JsonNode> e = it.next();
          labels.put(e.getKey(), e.getValue().asText());
        }
        JsonNode values = series.path("values");
        JsonNode timestamps = series.path("timestamps");
        for (int i = 0; i < values.size(); i++) {
          out.add(labels, timestamps.get(i).asLong(), values.get(i).asDouble());
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
