package dev.promsink.flink.internal.jni;

/**
 * An error reported by the native core: a malformed batch, an invalid configuration, a closed
 * client or a caught panic. Never a JVM crash: every native failure arrives as this exception.
 *
 * <p>Internal, like its package: the sink wraps it before it reaches application code (in {@link
 * dev.promsink.flink.PrometheusSinkWriteException} or {@link
 * dev.promsink.flink.PrometheusSinkException}), so applications never need to catch it.
 */
public final class NativeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Code of a batch buffer that does not follow the batch format. */
  public static final int MALFORMED_BATCH = 1;

  /** Code of a configuration the native core refuses. */
  public static final int INVALID_CONFIG = 2;

  /** Code of a call on a closed client. */
  public static final int CLOSED = 3;

  /** Code of a Rust panic caught at the JNI boundary. */
  public static final int PANIC = 4;

  /** Code of a failed JNI operation. */
  public static final int JNI = 5;

  private final int code;

  /** Called from native code. */
  public NativeException(int code, String message) {
    super(message);
    this.code = code;
  }

  /** The stable error code (see the constants of this class). */
  public int code() {
    return code;
  }
}
