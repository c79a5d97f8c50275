package dev.promsink.flink.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The fault-injecting receiver of {@code tests/receiver} (built by Maven with cargo): answers by a
 * script (statuses, Retry-After, delays, resets) and checks every request it receives.
 */
public final class FaultReceiver implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path BINARY = Paths.get("target/release/promsink-test-receiver");

  private final Process process;
  private final String address;

  private FaultReceiver(List<String> args) {
    List<String> command = new ArrayList<>();
    command.add(BINARY.toAbsolutePath().toString());
    command.addAll(args);
    try {
      process = new ProcessBuilder(command).redirectErrorStream(true).start();
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String first = out.readLine();
      if (first == null || !first.startsWith("listening ")) {
        throw new IllegalStateException("receiver did not start: " + first);
      }
      address = first.substring("listening ".length());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A receiver answering {@code script} (see tests/receiver/src/script.rs), then {@code then}. */
  public static FaultReceiver start(String script, String then, String... extraArgs) {
    List<String> args = new ArrayList<>(Arrays.asList("--script", script, "--then", then));
    args.addAll(Arrays.asList(extraArgs));
    return new FaultReceiver(args);
  }

  /** CPU time the receiver process has used so far (Linux /proc), in nanoseconds. */
  public long cpuNanos() {
    return dev.promsink.flink.bench.ThroughputBench.cpuNanosOf(process.pid());
  }

  public String writeUrl() {
    return "http://" + address + "/api/v1/write";
  }

  /** The counts of {@code GET /stats}. */
  public JsonNode stats() {
    return json(get("/stats"));
  }

  /**
   * Waits up to {@code timeoutMs} until {@code count} requests got {@code status} (a slow answer is
   * recorded only when its delay is over); returns the count seen last.
   */
  public long awaitStatusCount(String status, long count, long timeoutMs)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000;
    long seen = 0;
    while (System.nanoTime() < deadline) {
      JsonNode n = stats().get("statuses").get(status);
      seen = n == null ? 0 : n.asLong();
      if (seen >= count) {
        break;
      }
      Thread.sleep(50);
    }
    return seen;
  }

  /** The request log: one JSON object per request, in arrival order. */
  public List<JsonNode> requests() {
    List<JsonNode> out = new ArrayList<>();
    for (String line : get("/requests").split("\n")) {
      if (!line.isBlank()) {
        out.add(json(line));
      }
    }
    return out;
  }

  /** Every accepted sample, by series. */
  public Map<String, List<Samples.Point>> series() {
    Map<String, List<Samples.Point>> out = new TreeMap<>();
    for (String line : get("/series").split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode s = json(line);
      List<Samples.Point> points = new ArrayList<>();
      for (JsonNode p : s.get("samples")) {
        points.add(new Samples.Point(p.get(0).asLong(), Double.parseDouble(p.get(1).asText())));
      }
      out.put(s.get("series").asText(), points);
    }
    return out;
  }

  private static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private String get(String path) {
    try {
      HttpURLConnection c =
          (HttpURLConnection) new URL("http://" + address + path).openConnection();
      c.setConnectTimeout(5000);
      c.setReadTimeout(30000);
      return new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
