package dev.promsink.flink;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.flink.connector.base.sink.writer.strategy.RequestInfo;
import org.apache.flink.connector.base.sink.writer.strategy.ResultInfo;
import org.junit.jupiter.api.Test;

/** Batches in flight follow the sending lanes in use. */
class LaneInFlightStrategyTest {
  private static final RequestInfo REQUEST = () -> 500;
  private static final ResultInfo RESULT =
      new ResultInfo() {
        @Override
        public int getFailedMessages() {
          return 0;
        }

        @Override
        public int getBatchSize() {
          return 500;
        }
      };

  @Test
  void theLimitScalesWithTheActiveLanesRoundingUp() {
    LaneInFlightStrategy s = new LaneInFlightStrategy(36, 12, 12, 500);
    assertThat(s.limit()).isEqualTo(36);
    assertThat(s.activeLanes()).isEqualTo(12);
    s.updateLanes(1L << 8 | 1);
    assertThat(s.limit()).isEqualTo(3);
    s.updateLanes(2L << 8 | 5);
    assertThat(s.limit()).isEqualTo(15);
    LaneInFlightStrategy few = new LaneInFlightStrategy(4, 12, 1, 500);
    assertThat(few.limit()).isEqualTo(1);
    few.updateLanes(1L << 8 | 6);
    assertThat(few.limit()).isEqualTo(2);
    assertThat(new LaneInFlightStrategy(1, 1, 1, 500).limit()).isEqualTo(1);
    assertThat(s.getMaxBatchSize()).isEqualTo(500);
  }

  @Test
  void onlyNewerReportsCountAndOnlyChangesAreReported() {
    LaneInFlightStrategy s = new LaneInFlightStrategy(36, 12, 1, 500);
    assertThat(s.updateLanes(1)).isEqualTo(-1); // generation 0, unchanged
    assertThat(s.updateLanes(1L << 8 | 2)).isEqualTo(1);
    assertThat(s.updateLanes(2L << 8 | 4)).isEqualTo(2);
    // A late completion of generation 1 does not undo generation 2.
    assertThat(s.updateLanes(1L << 8 | 2)).isEqualTo(-1);
    assertThat(s.activeLanes()).isEqualTo(4);
    assertThat(s.updateLanes(2L << 8 | 4)).isEqualTo(-1);
  }

  @Test
  void blocksAtTheLimitAndUnblocksOnCompletionOrMoreLanes() {
    LaneInFlightStrategy s = new LaneInFlightStrategy(6, 2, 1, 500);
    for (int i = 0; i < 3; i++) {
      assertThat(s.shouldBlock(REQUEST)).isFalse();
      s.registerInFlightRequest(REQUEST);
    }
    assertThat(s.shouldBlock(REQUEST)).isTrue();
    s.registerCompletedRequest(RESULT);
    assertThat(s.shouldBlock(REQUEST)).isFalse();
    s.registerInFlightRequest(REQUEST);
    assertThat(s.shouldBlock(REQUEST)).isTrue();
    s.updateLanes(1L << 8 | 2);
    assertThat(s.shouldBlock(REQUEST)).isFalse();
  }
}
