package dev.promsink.flink;

import org.apache.flink.connector.base.sink.writer.strategy.RateLimitingStrategy;
import org.apache.flink.connector.base.sink.writer.strategy.RequestInfo;
import org.apache.flink.connector.base.sink.writer.strategy.ResultInfo;

/**
 * Lets batches be in flight in proportion to the sending lanes in use: {@code maxInFlightBatches}
 * when all {@code lanes} are active, {@code maxInFlightBatches x active / lanes} (at least 1) when
 * the native client has lowered the count, at full batch size from the start.
 *
 * <p>Flink's default strategy (AIMD congestion control) starts at one batch in flight and grows it
 * by a few entries per completed request, so the native lanes would stay idle for hundreds of
 * requests. Throttling is handled natively (retries in place, Retry-After), so Flink never sees a
 * failed entry that should shrink the window. Keeping the batches in flight proportional to the
 * active lanes bounds what waits in a lane's queue (latency, and the time a change of the lane
 * count takes to settle). Used from the writer's mailbox thread; {@link #setActiveLanes} from the
 * native sender threads.
 */
final class LaneInFlightStrategy implements RateLimitingStrategy {
  private final int maxInFlightBatches;
  private final int lanes;
  private final int maxBatchSize;
  private volatile int activeLanes;
  private long generation = -1;
  private int inFlight;

  /** {@code firstActiveLanes}: what the native client starts with (1 if adaptive, else all). */
  LaneInFlightStrategy(int maxInFlightBatches, int lanes, int firstActiveLanes, int maxBatchSize) {
    this.maxInFlightBatches = maxInFlightBatches;
    this.lanes = lanes;
    this.maxBatchSize = maxBatchSize;
    this.activeLanes = firstActiveLanes;
  }

  /**
   * A report of the native client, {@code generation << 8 | active lanes}. Returns the previous
   * count if this report is newer than every earlier one and changes the count, else -1.
   */
  synchronized int updateLanes(long report) {
    long reportGeneration = report >>> 8;
    if (reportGeneration <= generation) {
      return -1;
    }
    generation = reportGeneration;
    int previous = activeLanes;
    activeLanes = (int) (report & 0xff);
    return previous == activeLanes ? -1 : previous;
  }

  /** Sending lanes the native client uses now. */
  int activeLanes() {
    return activeLanes;
  }

  /** Batches allowed in flight now. */
  int limit() {
    long scaled = ((long) maxInFlightBatches * activeLanes + lanes - 1) / lanes;
    return (int) Math.max(1, Math.min(maxInFlightBatches, scaled));
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
    return inFlight >= limit();
  }

  @Override
  public int getMaxBatchSize() {
    return maxBatchSize;
  }
}
