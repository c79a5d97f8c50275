package dev.promsink.flink.internal.jni;

/**
 * The native client's counters, in the order of the array that crosses JNI (the same order as
 * {@code metrics::Counter} in the native crate), with the Flink metric names of the Apache
 * connector plus {@code numSamplesInvalidDropped}.
 */
public enum SinkCounter {
  /** Samples written (2xx). */
  SAMPLES_OUT("numSamplesOut"),
  /** Write requests answered 2xx. */
  WRITE_REQUESTS_OUT("numWriteRequestsOut"),
  /** Retries, after any retryable answer or transport error. */
  WRITE_REQUESTS_RETRIES("numWriteRequestsRetries"),
  /** Samples dropped for any reason, including invalid series. */
  SAMPLES_DROPPED("numSamplesDropped"),
  /** Samples dropped after a non-retryable 4xx answer. */
  SAMPLES_NON_RETRYABLE_DROPPED("numSamplesNonRetryableDropped"),
  /** Samples dropped after the retry limit with DISCARD_AND_CONTINUE. */
  SAMPLES_RETRY_LIMIT_DROPPED("numSamplesRetryLimitDropped"),
  /** Requests not written: non-retryable, retry limit, or fatal. */
  WRITE_REQUESTS_PERMANENTLY_FAILED("numWriteRequestsPermanentlyFailed"),
  /** Samples of series dropped by validation. */
  SAMPLES_INVALID_DROPPED("numSamplesInvalidDropped");

  private final String metricName;

  SinkCounter(String metricName) {
    this.metricName = metricName;
  }

  /** The name of the Flink counter. */
  public String metricName() {
    return metricName;
  }
}
