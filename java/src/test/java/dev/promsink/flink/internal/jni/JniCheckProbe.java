package dev.promsink.flink.internal.jni;

import dev.promsink.flink.PrometheusTimeSeries;
import dev.promsink.flink.TestBatchEncoder;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Run by {@link JniCheckTest} in a JVM started with {@code -Xcheck:jni}: every native method and
 * every call the library makes into Java (a client with many options, a signer that throws once,
 * callbacks of which one throws), then prints {@code DONE <callbacks>}.
 */
public final class JniCheckProbe {
  private JniCheckProbe() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options = new LinkedHashMap<>();
    options.put("url", "http://127.0.0.1:1/api/v1/write");
    options.put("lanes", "2");
    options.put("retry.initial_delay_ms", "1");
    options.put("retry.max_delay_ms", "1");
    options.put("retry.max_retries", "1");
    options.put("on_max_retries_exceeded", "DISCARD_AND_CONTINUE");
    for (int i = 0; i < 200; i++) { // 400 strings: more local references than a frame's default
      options.put("header.X-Probe-" + i, "value-" + i);
    }
    AtomicInteger signed = new AtomicInteger();
    RequestSigning signer =
        (headers, body) -> {
          if (signed.incrementAndGet() == 1) {
            throw new IllegalStateException("credentials not ready");
          }
          return new String[] {"X-Signature", Integer.toString(body.length)};
        };
    int batches = 20;
    CountDownLatch done = new CountDownLatch(batches + 1); // one batch is told twice
    AtomicInteger calls = new AtomicInteger();
    BatchCallback callback =
        (outcome, message, status, body, invalidSeries, invalidSamples, first, counters, lanes) -> {
          done.countDown();
          if (calls.incrementAndGet() == 1) {
            throw new IllegalStateException("first callback fails");
          }
        };
    try (NativeClient client = NativeClient.create(options, signer)) {
      TestBatchEncoder encoder = new TestBatchEncoder();
      for (int b = 0; b < batches; b++) {
        PrometheusTimeSeries series =
            PrometheusTimeSeries.builder()
                .withMetricName("probe")
                .addLabel("batch", Integer.toString(b))
                .addSample(b, 1_700_000_000_000L + b)
                .build();
        ByteBuffer batch = encoder.encode(List.of(series));
        client.submit(batch, batch.limit(), callback);
      }
      if (!done.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("callbacks missing: " + done.getCount());
      }
      client.counters();
    }
    NativeClient.nativeMemory(true);
    System.out.println("DONE " + calls.get());
  }
}
