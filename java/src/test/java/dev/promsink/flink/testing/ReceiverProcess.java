package dev.promsink.flink.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.HttpsURLConnection;

/**
 * A real receiver (Prometheus or VictoriaMetrics, Debian packages) started on 127.0.0.1 with its
 * own temporary storage, stopped and deleted on close.
 */
public abstract class ReceiverProcess implements AutoCloseable {
  /** What runs: set before {@link #command} runs. */
  protected final String name;

  protected final Path dir;
  protected final int port;
  private final Process process;
  private final TestCertificates tls;
  private final String authorization;

  protected ReceiverProcess(String name) {
    this(name, null, null);
  }

  /**
   * A receiver serving HTTPS with {@code tls}'s server certificate when it is not null, and whose
   * own API is read with the {@code authorization} header when it is not null.
   */
  protected ReceiverProcess(String name, TestCertificates tls, String authorization) {
    this.name = name;
    this.tls = tls;
    this.authorization = authorization;
    try {
      dir = Files.createTempDirectory("promsink-" + name + "-");
      port = freePort();
      List<String> command = command(dir, port);
      process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("server.log").toFile())
              .start();
      awaitReady();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** True when the server requires basic auth (set before {@link #command} runs). */
  protected boolean requiresAuthorization() {
    return authorization != null;
  }

  /** The certificates served, or null for plain HTTP (set before {@link #command} runs). */
  protected TestCertificates tls() {
    return tls;
  }

  /** The command line; may write configuration files into {@code dir}. */
  protected abstract List<String> command(Path dir, int port) throws IOException;

  /** A path answering 200 once the server accepts writes. */
  protected abstract String readyPath();

  /** CPU time the server process has used so far (Linux /proc), in nanoseconds. */
  public long cpuNanos() {
    return dev.promsink.flink.bench.ThroughputBench.cpuNanosOf(process.pid());
  }

  /** The Remote-Write endpoint. */
  public String writeUrl() {
    return baseUrl() + "/api/v1/write";
  }

  public String baseUrl() {
    return (tls == null ? "http" : "https") + "://127.0.0.1:" + port;
  }

  /** GET a path, returning the body; fails on a non-200 status. */
  public String get(String pathAndQuery) {
    try {
      HttpURLConnection c = (HttpURLConnection) new URL(baseUrl() + pathAndQuery).openConnection();
      if (tls != null) {
        ((HttpsURLConnection) c).setSSLSocketFactory(tls.sslContext().getSocketFactory());
      }
      if (authorization != null) {
        c.setRequestProperty("Authorization", authorization);
      }
      c.setConnectTimeout(5000);
      c.setReadTimeout(30000);
      int status = c.getResponseCode();
      byte[] body = (status < 400 ? c.getInputStream() : c.getErrorStream()).readAllBytes();
      String text = new String(body, StandardCharsets.UTF_8);
      if (status != 200) {
        throw new IllegalStateException(
            "GET " + pathAndQuery + " answered " + status + ": " + text);
      }
      return text;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void awaitReady() throws IOException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "receiver exited: " + Files.readString(dir.resolve("server.log")));
      }
      try {
        get(readyPath());
        return;
      } catch (RuntimeException notYet) {
        sleep(100);
      }
    }
    throw new IllegalStateException(
        "receiver not ready in 60 s: " + Files.readString(dir.resolve("server.log")));
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
