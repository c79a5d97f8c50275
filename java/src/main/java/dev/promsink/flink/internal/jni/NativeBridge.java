package dev.promsink.flink.internal.jni;

import java.nio.ByteBuffer;

/**
 * The native methods of {@code libpromsink}. Use {@link NativeClient}, which owns a handle and
 * makes these calls safe; calling them directly with a stale handle is undefined behaviour.
 */
final class NativeBridge {
  static {
    NativeLibraryLoader.load();
  }

  private NativeBridge() {}

  /** Creates a client from key/value pairs and an optional signer; returns its handle. */
  static native long create(String[] keysAndValues, RequestSigning signer);

  /** Reads {@code length} bytes of the direct buffer {@code batch} now; completes later. */
  static native void submit(long handle, ByteBuffer batch, int length, BatchCallback callback);

  /**
   * A dry run of {@link #submit}'s preparation (parse, validate, encode, compress) on the calling
   * thread, without a client or a request; returns the compressed size. For benchmarks.
   */
  static native int prepare(ByteBuffer batch, int length);

  /** Bytes the library holds now and at its peak; then starts a new peak if asked. */
  static native long[] nativeMemory(boolean resetPeak);

  /** The client's counters, indexed as {@link SinkCounter}. */
  static native long[] counters(long handle);

  /** Stops and joins the sender thread and frees the client. */
  static native void close(long handle);
}
