package dev.promsink.flink.internal.jni;

import java.nio.ByteBuffer;
import java.util.Map;

/**
 * One native Remote-Write client: a handle to the Rust side, its sender thread and counters. Safe
 * against use after close and double close; all methods are thread-safe.
 */
public final class NativeClient implements AutoCloseable {
  private long handle;
  private long[] lastCounters = new long[SinkCounter.values().length];

  private NativeClient(long handle) {
    this.handle = handle;
  }

  /**
   * Creates a client. Options are the native configuration keys (see {@code
   * docs/configuration.md}); an unknown key or a bad value is a {@link NativeException}.
   */
  public static NativeClient create(Map<String, String> options) {
    return create(options, null);
  }

  /**
   * Creates a client whose requests are signed by {@code signer} (may be null) before every
   * attempt.
   */
  public static NativeClient create(Map<String, String> options, RequestSigning signer) {
    String[] pairs = new String[options.size() * 2];
    int i = 0;
    for (Map.Entry<String, String> e : options.entrySet()) {
      pairs[i++] = e.getKey();
      pairs[i++] = e.getValue();
    }
    return new NativeClient(NativeBridge.create(pairs, signer));
  }

  /**
   * Submits the first {@code length} bytes of {@code batch} (a direct buffer in the batch format).
   * The bytes are read before this returns, so the buffer may be reused at once. {@code callback}
   * is called once, later, from the sender thread.
   *
   * @throws NativeException if the batch is malformed or the client is closed
   */
  public synchronized void submit(ByteBuffer batch, int length, BatchCallback callback) {
    if (!batch.isDirect()) {
      throw new IllegalArgumentException("the batch buffer must be a direct ByteBuffer");
    }
    NativeBridge.submit(liveHandle(), batch, length, callback);
  }

  /**
   * Runs the native preparation of a batch (parse, validate, normalise, encode, compress) on the
   * calling thread without sending it, and returns the compressed size: what {@link #submit} costs
   * the caller's thread. For benchmarks: only a library built with the cargo feature {@code
   * bench-support} has it ({@code scripts/bench.sh} builds one); the released library does not.
   *
   * @throws NativeException if the batch is malformed
   * @throws UnsupportedOperationException if the library was built without {@code bench-support}
   */
  public static int prepareOnly(ByteBuffer batch, int length) {
    if (!batch.isDirect()) {
      throw new IllegalArgumentException("the batch buffer must be a direct ByteBuffer");
    }
    try {
      return NativeBridge.prepare(batch, length);
    } catch (UnsatisfiedLinkError e) {
      throw new UnsupportedOperationException(
          "prepareOnly needs the native library built with the cargo feature bench-support"
              + " (scripts/bench.sh); the released library does not carry it",
          e);
    }
  }

  /**
   * Native memory of the library loaded by this class loader (all its clients): {@code [bytes held
   * now, peak bytes]}, counted by its allocator. The peak restarts from the current value when
   * {@code resetPeak} is true. For benchmarks and diagnostics.
   */
  public static long[] nativeMemory(boolean resetPeak) {
    return NativeBridge.nativeMemory(resetPeak);
  }

  /** The counters, indexed as {@link SinkCounter}; after close, their final values. */
  public synchronized long[] counters() {
    if (handle != 0) {
      lastCounters = NativeBridge.counters(handle);
    }
    return lastCounters.clone();
  }

  /** True until {@link #close()}. */
  public synchronized boolean isOpen() {
    return handle != 0;
  }

  /**
   * Stops the sender thread (abandoning queued batches and backoff waits, after at most the request
   * in progress), joins it and frees the native client. Idempotent.
   */
  @Override
  public synchronized void close() {
    if (handle != 0) {
      lastCounters = NativeBridge.counters(handle);
      long h = handle;
      handle = 0;
      NativeBridge.close(h);
    }
  }

  private long liveHandle() {
    if (handle == 0) {
      throw new NativeException(NativeException.CLOSED, "the native client is closed");
    }
    return handle;
  }
}
