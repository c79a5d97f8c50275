package dev.promsink.flink.testing;

import java.time.Duration;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** Bounded polling for conditions that other threads, jobs or processes make true. */
public final class Waits {
  private static final long POLL_MS = 20;

  private Waits() {}

  /**
   * Polls {@code value} until {@code done} accepts it and returns that value; fails with {@code
   * what} and the last value seen once {@code timeout} has passed.
   */
  public static <T> T until(String what, Duration timeout, Supplier<T> value, Predicate<T> done) {
    long deadline = System.nanoTime() + timeout.toNanos();
    T last = value.get();
    while (!done.test(last)) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(
            "timed out after "
                + timeout.toMillis()
                + " ms waiting for "
                + what
                + "; last: "
                + last);
      }
      sleep(POLL_MS);
      last = value.get();
    }
    return last;
  }

  /** Polls until {@code value} equals {@code expected}. */
  public static <T> T untilEquals(String what, Duration timeout, Supplier<T> value, T expected) {
    return until(what + " == " + expected, timeout, value, v -> expected.equals(v));
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting", e);
    }
  }
}
