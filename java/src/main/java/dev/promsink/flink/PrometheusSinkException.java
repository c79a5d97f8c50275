package dev.promsink.flink;

/**
 * A failure of the sink itself rather than of a write: for example a sink writer that cannot start
 * because the native client refuses its configuration on the TaskManager (a CA file given to {@link
 * PrometheusSinkBuilder#setTlsCaCertificateFile} that cannot be read there). The message says why;
 * the cause, when there is one, is internal and may change.
 *
 * <p>Same name and constructors as in Apache's Prometheus connector (which throws it when it cannot
 * compress a request). A write that fails is a {@link PrometheusSinkWriteException} instead, which
 * is not a subclass of this one, as in Apache's connector.
 */
public class PrometheusSinkException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * An exception with a message.
   *
   * @param message what failed
   */
  public PrometheusSinkException(String message) {
    super(message);
  }

  /**
   * An exception with a message and a cause.
   *
   * @param message what failed
   * @param cause why
   */
  public PrometheusSinkException(String message, Throwable cause) {
    super(message, cause);
  }
}
