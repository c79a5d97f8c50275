package dev.promsink.flink;

/**
 * Fails the job when a write cannot succeed: a fatal answer (401, 403, 404, 1xx, 3xx), an
 * unrecoverable transport error, or the retry limit with {@code FAIL}. The message names the
 * endpoint, the status or error, and the response body.
 */
public class PrometheusSinkWriteException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** An exception with the native client's message. */
  public PrometheusSinkWriteException(String message) {
    super(message);
  }

  /** An exception with a cause. */
  public PrometheusSinkWriteException(String message, Throwable cause) {
    super(message, cause);
  }
}
