package dev.promsink.flink;

import java.io.Serializable;
import java.util.Objects;

/**
 * Configuration types of {@link PrometheusSink}, with the names, constructors, builders and
 * defaults of Apache's Prometheus connector: code that configures Apache's sink compiles against
 * these after changing the imports.
 */
public final class PrometheusSinkConfiguration {
  /**
   * Creates an instance, as Apache's connector allows; it holds nothing (the configuration lives in
   * the nested types).
   */
  public PrometheusSinkConfiguration() {}

  /** What the sink does when a request cannot be written. */
  public enum OnErrorBehavior {
    /** Drop the request, count it, log a warning and continue. */
    DISCARD_AND_CONTINUE,
    /** Fail the job. */
    FAIL
  }

  /** Backoff and retry limit for retryable answers (429, 5xx, transport errors). */
  public static final class RetryConfiguration implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Default delay before the first retry. */
    public static final long DEFAULT_INITIAL_RETRY_DELAY_MS = 30L;

    /** Default upper bound of a delay. */
    public static final long DEFAULT_MAX_RETRY_DELAY_MS = 5000L;

    /** Default number of retries. */
    public static final int DEFAULT_MAX_RETRY_COUNT = 100;

    /** The defaults: 30 ms doubling up to 5000 ms, 100 retries. */
    public static final RetryConfiguration DEFAULT_RETRY_CONFIGURATION = builder().build();

    private final long initialRetryDelayMS;
    private final long maxRetryDelayMS;
    private final int maxRetryCount;

    /**
     * A retry configuration (same constructor as Apache's connector). The values are checked by
     * {@link PrometheusSinkBuilder#build()}, which names the first one out of range.
     *
     * @param initialRetryDelayMS delay before the first retry, in milliseconds (> 0)
     * @param maxRetryDelayMS upper bound of every delay, in milliseconds (>= the initial delay)
     * @param maxRetryCount retries after the first attempt (> 0)
     */
    public RetryConfiguration(long initialRetryDelayMS, long maxRetryDelayMS, int maxRetryCount) {
      this.initialRetryDelayMS = initialRetryDelayMS;
      this.maxRetryDelayMS = maxRetryDelayMS;
      this.maxRetryCount = maxRetryCount;
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
      return new Builder();
    }

    /** Delay before the first retry, in milliseconds. */
    public long getInitialRetryDelayMS() {
      return initialRetryDelayMS;
    }

    /** Upper bound of every delay (including {@code Retry-After}), in milliseconds. */
    public long getMaxRetryDelayMS() {
      return maxRetryDelayMS;
    }

    /** Retries after the first attempt; {@code Integer.MAX_VALUE} retries for ever. */
    public int getMaxRetryCount() {
      return maxRetryCount;
    }

    @Override
    public boolean equals(Object o) {
      if (!(o instanceof RetryConfiguration)) {
        return false;
      }
      RetryConfiguration r = (RetryConfiguration) o;
      return initialRetryDelayMS == r.initialRetryDelayMS
          && maxRetryDelayMS == r.maxRetryDelayMS
          && maxRetryCount == r.maxRetryCount;
    }

    @Override
    public int hashCode() {
      return Objects.hash(initialRetryDelayMS, maxRetryDelayMS, maxRetryCount);
    }

    @Override
    public String toString() {
      return "RetryConfiguration{initialRetryDelayMS="
          + initialRetryDelayMS
          + ", maxRetryDelayMS="
          + maxRetryDelayMS
          + ", maxRetryCount="
          + maxRetryCount
          + "}";
    }

    /** Builds a {@link RetryConfiguration}; values are checked by the sink builder. */
    public static final class Builder {
      private long initialRetryDelayMS = DEFAULT_INITIAL_RETRY_DELAY_MS;
      private long maxRetryDelayMS = DEFAULT_MAX_RETRY_DELAY_MS;
      private int maxRetryCount = DEFAULT_MAX_RETRY_COUNT;

      /** A builder starting from the defaults; same as {@link RetryConfiguration#builder()}. */
      public Builder() {}

      /** Delay before the first retry (> 0). */
      public Builder setInitialRetryDelayMS(long initialRetryDelayMS) {
        this.initialRetryDelayMS = initialRetryDelayMS;
        return this;
      }

      /** Upper bound of every delay (>= the initial delay). */
      public Builder setMaxRetryDelayMS(long maxRetryDelayMS) {
        this.maxRetryDelayMS = maxRetryDelayMS;
        return this;
      }

      /** Retries after the first attempt (> 0). */
      public Builder setMaxRetryCount(int maxRetryCount) {
        this.maxRetryCount = maxRetryCount;
        return this;
      }

      /** The configuration. */
      public RetryConfiguration build() {
        return new RetryConfiguration(initialRetryDelayMS, maxRetryDelayMS, maxRetryCount);
      }
    }
  }

  /** What happens when a request cannot be written. */
  public static final class SinkWriterErrorHandlingBehaviorConfiguration implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Default after the retry limit: fail the job. */
    public static final OnErrorBehavior ON_MAX_RETRY_EXCEEDED_DEFAULT_BEHAVIOR =
        OnErrorBehavior.FAIL;

    /** Default (and only allowed value) after a non-retryable answer: drop and continue. */
    public static final OnErrorBehavior ON_PROMETHEUS_NON_RETRYABLE_ERROR_DEFAULT_BEHAVIOR =
        OnErrorBehavior.DISCARD_AND_CONTINUE;

    /** The defaults. */
    public static final SinkWriterErrorHandlingBehaviorConfiguration DEFAULT_BEHAVIORS =
        builder().build();

    private final OnErrorBehavior onMaxRetryExceeded;
    private final OnErrorBehavior onPrometheusNonRetryableError;

    /**
     * An error-handling configuration (same constructor as Apache's connector). The values are
     * checked by {@link PrometheusSinkBuilder#build()}.
     *
     * @param onMaxRetryExceeded after the retry limit: FAIL or DISCARD_AND_CONTINUE
     * @param onPrometheusNonRetryableError after a non-retryable answer: only DISCARD_AND_CONTINUE
     */
    public SinkWriterErrorHandlingBehaviorConfiguration(
        OnErrorBehavior onMaxRetryExceeded, OnErrorBehavior onPrometheusNonRetryableError) {
      this.onMaxRetryExceeded = onMaxRetryExceeded;
      this.onPrometheusNonRetryableError = onPrometheusNonRetryableError;
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
      return new Builder();
    }

    /** What happens after the retry limit. */
    public OnErrorBehavior getOnMaxRetryExceeded() {
      return onMaxRetryExceeded;
    }

    /** What happens after a non-retryable answer (always DISCARD_AND_CONTINUE). */
    public OnErrorBehavior getOnPrometheusNonRetryableError() {
      return onPrometheusNonRetryableError;
    }

    @Override
    public boolean equals(Object o) {
      if (!(o instanceof SinkWriterErrorHandlingBehaviorConfiguration)) {
        return false;
      }
      SinkWriterErrorHandlingBehaviorConfiguration c =
          (SinkWriterErrorHandlingBehaviorConfiguration) o;
      return onMaxRetryExceeded == c.onMaxRetryExceeded
          && onPrometheusNonRetryableError == c.onPrometheusNonRetryableError;
    }

    @Override
    public int hashCode() {
      return Objects.hash(onMaxRetryExceeded, onPrometheusNonRetryableError);
    }

    @Override
    public String toString() {
      return "SinkWriterErrorHandlingBehaviorConfiguration{onMaxRetryExceeded="
          + onMaxRetryExceeded
          + ", onPrometheusNonRetryableError="
          + onPrometheusNonRetryableError
          + "}";
    }

    /** Builds a {@link SinkWriterErrorHandlingBehaviorConfiguration}. */
    public static final class Builder {
      private OnErrorBehavior onMaxRetryExceeded = ON_MAX_RETRY_EXCEEDED_DEFAULT_BEHAVIOR;
      private OnErrorBehavior onPrometheusNonRetryableError =
          ON_PROMETHEUS_NON_RETRYABLE_ERROR_DEFAULT_BEHAVIOR;

      /**
       * A builder starting from the defaults; same as {@link
       * SinkWriterErrorHandlingBehaviorConfiguration#builder()}.
       */
      public Builder() {}

      /** After the retry limit: FAIL (default) or DISCARD_AND_CONTINUE. */
      public Builder onMaxRetryExceeded(OnErrorBehavior behavior) {
        this.onMaxRetryExceeded = behavior;
        return this;
      }

      /** After a non-retryable answer: only DISCARD_AND_CONTINUE is allowed. */
      public Builder onPrometheusNonRetryableError(OnErrorBehavior behavior) {
        this.onPrometheusNonRetryableError = behavior;
        return this;
      }

      /** The configuration. */
      public SinkWriterErrorHandlingBehaviorConfiguration build() {
        return new SinkWriterErrorHandlingBehaviorConfiguration(
            onMaxRetryExceeded, onPrometheusNonRetryableError);
      }
    }
  }
}
