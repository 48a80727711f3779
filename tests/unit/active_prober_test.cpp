#include "dmm/active_prober.hpp"

#include <gtest/gtest.h>

#include "fake_stack.hpp"

using namespace std::chrono_literals;
using namespace dmm;

namespace {

struct Collect final : PathSampleSink {
  void on_sample(const PathSample& s) override { samples.push_back(s); }
  std::vector<PathSample> samples;
};

const Endpoint kTarget{IpAddress::v4(0x0a000001), 7};

TEST(ActiveProber, ConnectProbeReportsTheHandshakeTime) {
  EventQueueExecutor ex;
  test::FakeStack stack(ex, "a");
  stack.handshake = 7ms;
  Collect sink;
  ActiveProber prober(ex, {{&stack, kTarget, ProbeKind::connect}}, sink, {.interval = 100ms, .timeout = 50ms});
  prober.start();
  ex.run_until(250ms);
  prober.stop();
  ASSERT_EQ(sink.samples.size(), 3u);  // at 0, 100 and 200 ms
  for (const auto& s : sink.samples) {
    EXPECT_FALSE(s.failure);
    ASSERT_TRUE(s.rtt);
    EXPECT_EQ(*s.rtt, 7ms);
    EXPECT_EQ(s.stack, "a");
  }
  EXPECT_EQ(stack.closes, 3);  // each probe's connection is closed once it has its answer
}

TEST(ActiveProber, EchoProbeCarriesItsSegmentsSoItRefreshesLoss) {
  EventQueueExecutor ex;
  test::FakeStack stack(ex, "a");
  stack.echo_after = 30ms;
  stack.retransmits_per_send = 1;
  Collect sink;
  ActiveProber prober(ex, {{&stack, kTarget, ProbeKind::echo}}, sink, {.interval = 1s, .timeout = 500ms});
  prober.start();
  ex.run_until(200ms);
  prober.stop();
  ASSERT_EQ(sink.samples.size(), 1u);
  EXPECT_FALSE(sink.samples[0].failure);
  EXPECT_EQ(sink.samples[0].rtt, Duration(30ms));
  EXPECT_EQ(sink.samples[0].segments_sent, 1u);
  EXPECT_EQ(sink.samples[0].retransmits, 1u);
}

TEST(ActiveProber, ConnectProbeSendsNoDataSoItSaysNothingAboutLoss) {
  EventQueueExecutor ex;
  test::FakeStack stack(ex, "a");
  Collect sink;
  ActiveProber prober(ex, {{&stack, kTarget, ProbeKind::connect}}, sink, {.interval = 1s, .timeout = 500ms});
  prober.start();
  ex.run_until(100ms);
  prober.stop();
  ASSERT_EQ(sink.samples.size(), 1u);
  EXPECT_EQ(sink.samples[0].segments_sent, 0u);
}

TEST(ActiveProber, EchoProbeWithoutAnEchoTimesOutAsAFailure) {
  EventQueueExecutor ex;
  test::FakeStack stack(ex, "a");  // connects, but its connections never return data
  Collect sink;
  ActiveProber prober(ex, {{&stack, kTarget, ProbeKind::echo}}, sink, {.interval = 1s, .timeout = 50ms});
  prober.start();
  ex.run_until(500ms);
  prober.stop();
  ASSERT_EQ(sink.samples.size(), 1u);
  EXPECT_TRUE(sink.samples[0].failure);
  EXPECT_EQ(sink.samples[0].at, 50ms);
}

TEST(ActiveProber, RefusedConnectIsAFailureAtOnce) {
  EventQueueExecutor ex;
  test::FakeStack stack(ex, "a");
  stack.outcome = test::ConnectOutcome::refuse_now;
  Collect sink;
  ActiveProber prober(ex, {{&stack, kTarget, ProbeKind::connect}}, sink, {.interval = 1s, .timeout = 50ms});
  prober.start();
  ex.run_until(10ms);
  prober.stop();
  ASSERT_EQ(sink.samples.size(), 1u);
  EXPECT_TRUE(sink.samples[0].failure);
  EXPECT_EQ(sink.samples[0].at, 0ms);
}

}  // namespace
