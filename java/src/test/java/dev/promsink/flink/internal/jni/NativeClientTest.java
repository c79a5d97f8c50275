package dev.promsink.flink.internal.jni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.TestBatchEncoder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The JNI bridge: bad input is an exception, never a crash; close is safe and complete. */
class NativeClientTest {
  /** Nothing listens on port 1 of loopback; no request is expected to succeed. */
  private static Map<String, String> options() {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("url", "http://127.0.0.1:1/api/v1/write");
    o.put("retry.max_retries", "1");
    o.put("retry.initial_delay_ms", "1");
    o.put("retry.max_delay_ms", "1");
    o.put("on_max_retries_exceeded", "DISCARD_AND_CONTINUE");
    return o;
  }

  /** A batch of one series, in a direct buffer of its own. */
  private static ByteBuffer batch(String metric, double value, long timestamp) {
    PrometheusTimeSeries series =
        PrometheusTimeSeries.builder()
            .withMetricName(metric)
            .addLabel("device", "d1")
            .addSample(value, timestamp)
            .build();
    return new TestBatchEncoder().encode(List.of(series));
  }

  private static final class Result implements BatchCallback {
    final CompletableFuture<Object[]> done = new CompletableFuture<>();

    @Override
    public void onComplete(
        int outcome,
        String message,
        int status,
        String body,
        long invalidSeries,
        long invalidSamples,
        String firstInvalid,
        long[] counters,
        long lanes) {
      done.complete(
          new Object[] {
            outcome,
            message,
            invalidSeries,
            invalidSamples,
            counters,
            lanes,
            firstInvalid,
            status,
            body
          });
    }

    /** A callback that runs {@code before} (which may throw), then completes this result. */
    BatchCallback after(Runnable before) {
      return (o, m, s, b, is, isa, f, c, l) -> {
        before.run();
        onComplete(o, m, s, b, is, isa, f, c, l);
      };
    }
  }

  @Test
  void malformedBuffersAreExceptionsNotCrashes() {
    try (NativeClient client = NativeClient.create(options())) {
      ByteBuffer good = batch("m", 1, 1);
      int length = good.limit();

      ByteBuffer badMagic = copy(good);
      badMagic.put(0, (byte) 'X');
      assertMalformed(client, badMagic, length, "bad magic");

      ByteBuffer badVersion = copy(good);
      badVersion.put(4, (byte) 9);
      assertMalformed(client, badVersion, length, "unsupported batch format version 9");

      assertMalformed(client, good, length - 1, "malformed batch");
      assertMalformed(client, good, length + 1_000_000, "outside the buffer's capacity");
      assertMalformed(client, good, -1, "outside the buffer's capacity");

      ByteBuffer hugeCount = copy(good);
      hugeCount.order(ByteOrder.LITTLE_ENDIAN).putInt(8, Integer.MAX_VALUE);
      assertMalformed(client, hugeCount, length, "entry count");

      ByteBuffer hugeEntry = copy(good);
      hugeEntry.order(ByteOrder.LITTLE_ENDIAN).putInt(12, -2);
      assertMalformed(client, hugeEntry, length, "entry 0");

      assertThatThrownBy(() -> client.submit(ByteBuffer.allocate(64), 12, new Result()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("direct");
      // Nothing was counted for the rejected buffers.
      assertThat(client.counters()).containsOnly(0L);
    }
  }

  private static void assertMalformed(NativeClient c, ByteBuffer b, int length, String message) {
    assertThatThrownBy(() -> c.submit(b, length, new Result()))
        .isInstanceOf(NativeException.class)
        .hasMessageContaining(message)
        .satisfies(
            e ->
                assertThat(((NativeException) e).code())
                    .isEqualTo(NativeException.MALFORMED_BATCH));
  }

  private static ByteBuffer copy(ByteBuffer b) {
    ByteBuffer c = ByteBuffer.allocateDirect(b.limit());
    c.put(b.duplicate());
    c.flip();
    return c;
  }

  @Test
  void theReleasedLibraryHasNoDryRun() {
    // The dry run is a benchmark helper (cargo feature bench-support), not part of the product.
    ByteBuffer good = batch("m", 1, 1);
    assertThatThrownBy(() -> NativeClient.prepareOnly(good, good.limit()))
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("bench-support")
        .hasCauseInstanceOf(UnsatisfiedLinkError.class);
  }

  @Test
  void nativeMemoryIsCountedAndReturnsAfterClose() throws Exception {
    // A first client initialises what the library keeps for good (TLS roots and the like).
    NativeClient.create(options()).close();
    NativeClient.nativeMemory(true);
    long before = NativeClient.nativeMemory(false)[0];
    NativeClient client = NativeClient.create(options());
    long[] open = NativeClient.nativeMemory(false);
    assertThat(open[0]).isGreaterThan(before);
    assertThat(open[1]).isGreaterThanOrEqualTo(open[0]);
    client.close();
    // Everything the client held is freed (other tests' clients may be alive: at most before).
    assertThat(NativeClient.nativeMemory(false)[0]).isLessThanOrEqualTo(before);
  }

  @Test
  void invalidConfigurationIsAnException() {
    assertThatThrownBy(() -> NativeClient.create(Collections.singletonMap("url", "ftp://x")))
        .isInstanceOf(NativeException.class)
        .hasMessageContaining("url")
        .satisfies(
            e ->
                assertThat(((NativeException) e).code()).isEqualTo(NativeException.INVALID_CONFIG));
    Map<String, String> unknown = options();
    unknown.put("colour", "red");
    assertThatThrownBy(() -> NativeClient.create(unknown)).hasMessageContaining("colour");
  }

  @Test
  void aBatchCompletesOnTheNamedSenderThreadWithCountersAndActiveLanes() throws Exception {
    Map<String, String> threeLanes = options();
    threeLanes.put("lanes", "3");
    try (NativeClient client = NativeClient.create(threeLanes)) {
      Result result = new Result();
      CompletableFuture<String> thread = new CompletableFuture<>();
      client.submit(
          batch("m", 1, 1),
          batch("m", 1, 1).limit(),
          result.after(() -> thread.complete(Thread.currentThread().getName())));
      Object[] r = result.done.get(30, TimeUnit.SECONDS);
      assertThat(r[0]).isEqualTo(BatchCallback.DROPPED_RETRY_LIMIT);
      assertThat((String) r[1]).contains("no answer from http://127.0.0.1:1/api/v1/write");
      long[] counters = (long[]) r[4];
      assertThat(counters[SinkCounter.WRITE_REQUESTS_RETRIES.ordinal()]).isEqualTo(1);
      assertThat(counters[SinkCounter.SAMPLES_RETRY_LIMIT_DROPPED.ordinal()]).isEqualTo(1);
      assertThat(counters[SinkCounter.SAMPLES_DROPPED.ordinal()]).isEqualTo(1);
      assertThat(thread.get()).startsWith("promsink-sender-");
      assertThat(client.counters()).isEqualTo(counters);
      assertThat(r[5]).isEqualTo(1L); // generation 0, adaptive lanes start with one of three
    }
  }

  @Test
  void aCallbackThatThrowsIsCalledAgainWithTheBatchFailedAndWhatItThrew() throws Exception {
    try (NativeClient client = NativeClient.create(options())) {
      Result result = new Result();
      AtomicInteger calls = new AtomicInteger();
      ByteBuffer b = batch("bad-name", 1, 1); // invalid: completes at once, written
      client.submit(
          b,
          b.limit(),
          result.after(
              () -> {
                if (calls.incrementAndGet() == 1) {
                  throw new IllegalStateException("counter registry closed");
                }
              }));
      Object[] r = result.done.get(30, TimeUnit.SECONDS);
      assertThat(r[0]).isEqualTo(BatchCallback.FAILED);
      assertThat((String) r[1])
          .isEqualTo(
              "the result of a batch could not be handed to Java (JNI error:"
                  + " java.lang.IllegalStateException: counter registry closed); it was: written");
      assertThat(r[2]).isEqualTo(1L); // the rest of the result is the batch's own
      assertThat(calls.get()).isEqualTo(2);
      // The sender thread goes on serving batches.
      Result next = new Result();
      ByteBuffer again = batch("bad-name", 1, 2);
      client.submit(again, again.limit(), next);
      assertThat(next.done.get(30, TimeUnit.SECONDS)[0]).isEqualTo(BatchCallback.WRITTEN);
    }
  }

  @Test
  void invalidSeriesAreReportedToTheCallback() throws Exception {
    try (NativeClient client = NativeClient.create(options())) {
      Result result = new Result();
      ByteBuffer b = batch("bad-name", 1, 1);
      client.submit(b, b.limit(), result);
      Object[] r = result.done.get(30, TimeUnit.SECONDS);
      assertThat(r[0]).isEqualTo(BatchCallback.WRITTEN);
      assertThat(r[2]).isEqualTo(1L);
      assertThat(r[3]).isEqualTo(1L);
      assertThat(client.counters()[SinkCounter.SAMPLES_INVALID_DROPPED.ordinal()]).isEqualTo(1);
    }
  }

  @Test
  void aLabelValueWithAnUnpairedSurrogateInvalidatesItsSeriesInsteadOfBecomingAQuestionMark()
      throws Exception {
    PrometheusTimeSeries unpaired =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("device", "d\uD800x")
            .addSample(1, 1)
            .build();
    PrometheusTimeSeries fine =
        PrometheusTimeSeries.builder()
            .withMetricName("m")
            .addLabel("device", "caf\u00e9 \u20ac \uD83D\uDE00")
            .addSample(1, 1)
            .build();
    ByteBuffer b = new TestBatchEncoder().encode(List.of(unpaired, fine));
    byte[] bytes = new byte[b.limit()];
    b.duplicate().get(bytes);
    String raw = new String(bytes, StandardCharsets.ISO_8859_1);
    // Valid text is written as Java's own UTF-8 encoder writes it.
    assertThat(raw)
        .contains(
            new String(
                "caf\u00e9 \u20ac \uD83D\uDE00".getBytes(StandardCharsets.UTF_8),
                StandardCharsets.ISO_8859_1));
    try (NativeClient client = NativeClient.create(options())) {
      Result result = new Result();
      client.submit(b, b.limit(), result);
      Object[] r = result.done.get(30, TimeUnit.SECONDS);
      assertThat(r[2]).isEqualTo(1L);
      assertThat((String) r[6]).contains("not UTF-8");
      assertThat(client.counters()[SinkCounter.SAMPLES_INVALID_DROPPED.ordinal()]).isEqualTo(1);
    }
  }

  @Test
  void closeJoinsTheSenderThreadAndIsIdempotent() throws Exception {
    NativeClient client = NativeClient.create(options());
    CompletableFuture<String> thread = new CompletableFuture<>();
    ByteBuffer b = batch("m", 1, 1);
    client.submit(
        b,
        b.limit(),
        (o, m, s, body, is, isa, f, c, l) -> thread.complete(Thread.currentThread().getName()));
    String sender = thread.get(30, TimeUnit.SECONDS);
    long[] before = client.counters();
    client.close();
    client.close();
    assertThat(client.isOpen()).isFalse();
    assertThat(client.counters()).isEqualTo(before);
    assertThat(senderThreads()).doesNotContain(sender);
    assertThatThrownBy(() -> client.submit(b, b.limit(), new Result()))
        .isInstanceOf(NativeException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void noSenderThreadOutlivesItsClient() {
    long before = senderThreads().size();
    for (int i = 0; i < 20; i++) {
      NativeClient.create(options()).close();
    }
    assertThat(senderThreads()).hasSize((int) before);
  }

  private static List<String> senderThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .map(Thread::getName)
        .filter(n -> n.startsWith("promsink-sender-"))
        .collect(java.util.stream.Collectors.toList());
  }
}
