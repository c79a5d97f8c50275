package dev.promsink.flink;

import org.apache.flink.connector.base.sink.writer.strategy.RateLimitingStrategy;
import org.apache.flink.connector.base.sink.writer.strategy.RequestInfo;
import org.apache.flink.connector.base.sink.writer.strategy.ResultInfo;

/**
 * Lets a fixed number of batches be in flight, at full batch size from the start.
 *
 * <p>Flink's default strategy (AIMD congestion control) starts at one batch in flight and grows it
 * by a few entries per completed request, so the native lanes would stay idle for hundreds of
 * requests. Throttling is handled natively (retries in place, Retry-After), so Flink never sees a
 * failed entry that should shrink the window. Used only from the writer's mailbox thread.
 */
final class FixedInFlightStrategy implements RateLimitingStrategy {
  private final int maxInFlightBatches;
  private final int maxBatchSize;
  private int inFlight;

  FixedInFlightStrategy(int maxInFlightBatches, int maxBatchSize) {
    this.maxInFlightBatches = maxInFlightBatches;
    this.maxBatchSize = maxBatchSize;
  }

  @Override
  public void registerInFlightRequest(RequestInfo requestInfo) {
    inFlight++;
  }

  @Override
  public void registerCompletedRequest(ResultInfo resultInfo) {
    inFlight--;
  }

  @Override
  public boolean shouldBlock(RequestInfo requestInfo) {
    return inFlight >= maxInFlightBatches;
  }

  @Override
  public int getMaxBatchSize() {
    return maxBatchSize;
  }
}
