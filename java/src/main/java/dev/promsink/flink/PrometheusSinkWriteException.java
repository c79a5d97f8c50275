package dev.promsink.flink;

/**
 * Fails the job when a write cannot succeed: a fatal answer (401, 403, 404, 1xx, 3xx), an
 * unrecoverable transport error, or the retry limit with {@code FAIL}. The message names the
 * endpoint, the status or error, and the response body; the status and the body are also fields.
 */
public class PrometheusSinkWriteException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int httpStatusCode;
  private final String httpResponseBody;

  /** An exception with a message only (no HTTP answer). */
  public PrometheusSinkWriteException(String message) {
    this(message, 0, "");
  }

  /** An exception with a cause (no HTTP answer). */
  public PrometheusSinkWriteException(String message, Throwable cause) {
    super(message, cause);
    this.httpStatusCode = 0;
    this.httpResponseBody = "";
  }

  /**
   * An exception for a write whose last answer had {@code httpStatusCode} (0 when there was no
   * answer) and {@code httpResponseBody} (its start, bounded).
   */
  public PrometheusSinkWriteException(String message, int httpStatusCode, String httpResponseBody) {
    super(message);
    this.httpStatusCode = httpStatusCode;
    this.httpResponseBody = httpResponseBody == null ? "" : httpResponseBody;
  }

  /**
   * The constructor of Apache's connector: the reason, the answer's status, reason phrase and body,
   * and what the request held; all of it goes into the message, status and body also into fields.
   */
  public PrometheusSinkWriteException(
      String reason,
      int httpStatusCode,
      String httpReasonPhrase,
      int timeSeriesCount,
      long sampleCount,
      String httpResponseBody) {
    this(
        reason
            + " (HTTP "
            + httpStatusCode
            + " "
            + httpReasonPhrase
            + "; "
            + timeSeriesCount
            + " time series, "
            + sampleCount
            + " samples): "
            + httpResponseBody,
        httpStatusCode,
        httpResponseBody);
  }

  /** The HTTP status of the last answer to the failed write; 0 when there was no answer. */
  public int getHttpStatusCode() {
    return httpStatusCode;
  }

  /** The start of the last answer's body (bounded); empty when there was none. */
  public String getHttpResponseBody() {
    return httpResponseBody;
  }
}
