package dev.promsink.flink.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * A minimal Prometheus query client for code running inside a Flink job (it needs only a base URL
 * string, not a {@link PrometheusServer}, and uses only JDK types in its methods).
 */
public final class PrometheusQuery {
  private static final ObjectMapper JSON = new ObjectMapper();

  private PrometheusQuery() {}

  /** The number of raw samples matching {@code selector} in the last {@code window} (e.g. 1h). */
  public static long sampleCount(String baseUrl, String selector, String window)
      throws IOException {
    String query =
        URLEncoder.encode(
            "sum(count_over_time(" + selector + "[" + window + "]))", StandardCharsets.UTF_8);
    HttpURLConnection c =
        (HttpURLConnection) new URL(baseUrl + "/api/v1/query?query=" + query).openConnection();
    c.setConnectTimeout(5000);
    c.setReadTimeout(10000);
    int status = c.getResponseCode();
    if (status != 200) {
      throw new IOException("query " + selector + " answered " + status);
    }
    try (InputStream in = c.getInputStream()) {
      JsonNode result = JSON.readTree(in).path("data").path("result");
      return result.size() == 0 ? 0 : Long.parseLong(result.get(0).path("value").get(1).asText());
    }
  }
}
