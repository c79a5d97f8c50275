package dev.promsink.flink.aws;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The botocore-verifying Remote-Write receiver (src/test/python/sigv4_receiver.py) as a child
 * process on 127.0.0.1, stopped on close. It knows the credentials it verifies with; the signer
 * under test gets its own from the default chain.
 */
final class SigV4Receiver implements AutoCloseable {
  /** The receiver's script, from the repository root (the tests' working directory). */
  private static final Path SCRIPT =
      Path.of("java/request-signer-amp/src/test/python/sigv4_receiver.py");

  private final Process process;
  private final Path log;
  private final int port;

  /**
   * Verifies with these credentials (sessionToken may be null) for {@code region}, service aps;
   * answers the first {@code failFirst} requests with {@code failStatus}.
   */
  SigV4Receiver(
      String accessKeyId,
      String secretAccessKey,
      String sessionToken,
      String region,
      int failFirst,
      int failStatus) {
    try {
      log = Files.createTempFile("promsink-sigv4-receiver-", ".log");
      ProcessBuilder builder =
          new ProcessBuilder(
              "python3",
              SCRIPT.toString(),
              "--fail-first",
              Integer.toString(failFirst),
              "--fail-status",
              Integer.toString(failStatus));
      Map<String, String> env = builder.environment();
      env.put("SIGV4_ACCESS_KEY_ID", accessKeyId);
      env.put("SIGV4_SECRET_ACCESS_KEY", secretAccessKey);
      if (sessionToken != null) {
        env.put("SIGV4_SESSION_TOKEN", sessionToken);
      }
      env.put("SIGV4_REGION", region);
      env.put("SIGV4_SERVICE", AmazonManagedPrometheusWriteRequestSigner.SERVICE_SIGNING_NAME);
      process = builder.redirectError(log.toFile()).start();
      // The first line is "PORT <n>", printed once listening; null if the script died first.
      String first =
          new BufferedReader(
                  new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))
              .readLine();
      if (first == null || !first.startsWith("PORT ")) {
        process.destroy();
        throw new IllegalStateException(
            "sigv4_receiver.py did not start: " + first + "\n" + Files.readString(log));
      }
      port = Integer.parseInt(first.substring(5).trim());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The Remote-Write URL, path included. */
  String writeUrl() {
    return "http://127.0.0.1:" + port + "/api/v1/write";
  }

  /** Every request so far, in arrival order, and the samples of the accepted ones. */
  Report report() {
    try {
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/report"))
                      .timeout(Duration.ofSeconds(30))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException("GET /report answered " + r.statusCode());
      }
      return new Report(new ObjectMapper().readTree(r.body()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** POSTs {@code body} with {@code headers} (as a signer left them), returning the status. */
  int post(Map<String, String> headers, byte[] body) {
    return post(writeUrl(), headers, body);
  }

  /** POSTs to {@code url} (this receiver's, any path and query). */
  int post(String url, Map<String, String> headers, byte[] body) {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(url))
            .timeout(Duration.ofSeconds(30))
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    headers.forEach(request::header);
    try {
      return HttpClient.newHttpClient()
          .send(request.build(), HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() throws Exception {
    process.getOutputStream().close(); // the script ends when its stdin does
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
    Files.deleteIfExists(log);
  }

  /** What the receiver saw. */
  static final class Report {
    final JsonNode requests;
    final List<String> samples = new ArrayList<>();

    Report(JsonNode json) {
      requests = json.get("requests");
      for (JsonNode s : json.get("samples")) {
        samples.add(s.get(0).asText() + " " + s.get(1).asLong() + " " + s.get(2).asDouble());
      }
    }

    /** The reason of each request whose signature did not verify. */
    List<String> failures() {
      List<String> out = new ArrayList<>();
      for (JsonNode r : requests) {
        if (!r.get("valid").asBoolean()) {
          out.add(r.get("reason").asText());
        }
      }
      return out;
    }

    /** How many requests were answered {@code status}. */
    long answered(int status) {
      long n = 0;
      for (JsonNode r : requests) {
        n += r.get("status").asInt() == status ? 1 : 0;
      }
      return n;
    }
  }
}
