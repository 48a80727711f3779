#include "dmm/path_sample.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace dmm;

namespace {

ConnectionMetrics metrics(ByteCount acked, ByteCount received, Duration rtt, std::uint64_t segs, std::uint64_t retx) {
  ConnectionMetrics m;
  m.bytes_acked = acked;
  m.bytes_received = received;
  m.rtt = rtt;
  m.segments_sent = segs;
  m.retransmits = retx;
  return m;
}

TEST(ProgressSample, BytesMovedGiveRttAndGoodputDeltas) {
  const auto before = metrics(1000, 0, 2ms, 10, 1);
  const auto now = metrics(1000 + 100'000, 50'000, 3ms, 110, 4);
  auto s = progress_sample("a", before, now, 5s, 1s, 64 * 1024, false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stack, "a");
  EXPECT_EQ(s->at, 5s);
  EXPECT_EQ(s->rtt, 3ms);
  EXPECT_EQ(s->delivered, 150'000u);
  EXPECT_EQ(s->interval, 1s);
  EXPECT_EQ(s->segments_sent, 100u);
  EXPECT_EQ(s->retransmits, 3u);
}

TEST(ProgressSample, SmallTransfersGiveRttButNoGoodput) {
  auto s = progress_sample("a", {}, metrics(200, 300, 2ms, 2, 0), 1s, 1s, 64 * 1024, false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->rtt, 2ms);
  EXPECT_EQ(s->delivered, 0u);
  EXPECT_EQ(s->interval, 0s);
}

TEST(ProgressSample, AStalledConnectionSaysNothingUnlessFinal) {
  const auto m = metrics(500, 500, 2ms, 5, 0);
  EXPECT_FALSE(progress_sample("a", m, m, 1s, 1s, 1, false));
  auto last = progress_sample("a", m, m, 1s, 1s, 1, true);
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->rtt);  // an old RTT does not vouch for the path
}

}  // namespace

namespace {
// Issue 12, item 4: capacity is measured only while the sender had a backlog (unsent bytes) at both ends of the
// interval; then what was acknowledged measures the path, not the application's demand.
ConnectionMetrics sending(ByteCount acked, ByteCount unsent) {
  ConnectionMetrics m = metrics(acked, 0, 2ms, 0, 0);
  m.bytes_unsent = unsent;
  return m;
}

TEST(ProgressSample, ABackloggedSenderGivesACapacitySample) {
  auto s = progress_sample("a", sending(1000, 50'000), sending(1000 + 200'000, 30'000), 2s, 500ms, 64 * 1024, false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->acked_backlogged, 200'000u);
  EXPECT_EQ(s->interval, 500ms);
}

TEST(ProgressSample, NoBacklogAtEitherEndGivesNoCapacitySample) {
  // Application-limited at the start, at the end, or received rather than sent: goodput, but no capacity.
  for (const auto& [before, now] : {std::pair{sending(0, 0), sending(200'000, 10)},
                                    std::pair{sending(0, 10), sending(200'000, 0)}}) {
    auto s = progress_sample("a", before, now, 2s, 500ms, 64 * 1024, false);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->delivered, 200'000u);
    EXPECT_EQ(s->acked_backlogged, 0u);
  }
  ConnectionMetrics downloading = metrics(0, 500'000, 2ms, 0, 0);
  downloading.bytes_unsent = 10;
  auto s = progress_sample("a", sending(0, 10), downloading, 2s, 500ms, 64 * 1024, false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->acked_backlogged, 0u);
}

TEST(ProgressSample, TooFewBytesOrNoIntervalGiveNoCapacitySample) {
  auto small = progress_sample("a", sending(0, 10), sending(1000, 10), 2s, 500ms, 64 * 1024, false);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->acked_backlogged, 0u);
  auto instant = progress_sample("a", sending(0, 10), sending(200'000, 10), 2s, 0s, 64 * 1024, true);
  ASSERT_TRUE(instant);
  EXPECT_EQ(instant->acked_backlogged, 0u);
}

}  // namespace
