package dev.promsink.flink.internal.jni;

/**
 * Receives the end of one submitted batch. Called exactly once per batch from the native sender
 * thread (named {@code promsink-sender-N}), never for a batch abandoned by {@link
 * NativeClient#close()}. Implementations must not block. If a call throws, it is called once more
 * with {@link #FAILED} and a message naming what it threw, so that the batch ends either way.
 */
public interface BatchCallback {
  /** The batch was written (or held no valid series). */
  int WRITTEN = 0;

  /** The receiver answered a non-retryable 4xx: the batch was dropped and counted. */
  int DROPPED_NON_RETRYABLE = 1;

  /** The retry limit was reached with DISCARD_AND_CONTINUE: the batch was dropped and counted. */
  int DROPPED_RETRY_LIMIT = 2;

  /** A fatal answer, or the retry limit with FAIL: the job must fail with {@code message}. */
  int FAILED = 3;

  /**
   * Called once when the batch is done.
   *
   * @param outcome one of the constants of this interface
   * @param message for anything but {@link #WRITTEN}: endpoint, status or error, response body
   * @param status the HTTP status of the last answer to the worst request; 0 when there was none
   * @param body the start of that answer's body (bounded); empty when none
   * @param invalidSeries series of the batch dropped by validation
   * @param invalidSamples samples in those series
   * @param firstInvalid why the first invalid series was dropped, with its metric name
   * @param counters the client's counters after this batch, indexed as {@link SinkCounter}
   * @param lanes the sending lanes in use when the batch completed, as {@code generation << 8 |
   *     active lanes}: the generation grows with every change, so the report of the highest
   *     generation is the newest (completions of different lanes can arrive out of order)
   */
  void onComplete(
      int outcome,
      String message,
      int status,
      String body,
      long invalidSeries,
      long invalidSamples,
      String firstInvalid,
      long[] counters,
      long lanes);
}
