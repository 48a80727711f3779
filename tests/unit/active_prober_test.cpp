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

// Issue 16: state per target, not per probe. An echo target keeps one connection from round to round (no
// handshake and no TIME_WAIT connection left behind every interval), and each sample counts only its own segments.
TEST(ActiveProber, EchoProbesReuseOneConnectionAcrossRounds) {
  EventQueueExecutor ex;
  test::FakeStack stack(ex, "a");
  stack.echo_after = 10ms;
  Collect sink;
  ActiveProber prober(ex, {{&stack, kTarget, ProbeKind::echo}}, sink, {.interval = 100ms, .timeout = 50ms});
  prober.start();
  ex.run_until(950ms);
  ASSERT_EQ(sink.samples.size(), 10u);  // at 0 (after the handshake), 100, ..., 900 ms
  for (const auto& s : sink.samples) {
    EXPECT_FALSE(s.failure);
    EXPECT_EQ(s.rtt, Duration(10ms));
    EXPECT_EQ(s.segments_sent, 1u);  // this probe's, not the connection's total
  }
  EXPECT_EQ(stack.connects, 1);
  EXPECT_EQ(prober.connections_opened(), 1u);
  EXPECT_EQ(stack.closes, 0);
  prober.stop();  // stopping lets the kept connection go
  ex.run_until(1s);
  EXPECT_EQ(stack.closes, 1);
}

TEST(ActiveProber, ALinkThatWentDownIsKnownAtTheNextRoundNotAtTheKeptProbesTimeout) {
  EventQueueExecutor ex;
  test::FakeStack stack(ex, "a");  // connects, never echoes: the kept connection's probe hangs
  Collect sink;
  ActiveProber prober(ex, {{&stack, kTarget, ProbeKind::echo}}, sink, {.interval = 100ms, .timeout = 1s});
  ex.schedule(150ms, [&] { stack.outcome = test::ConnectOutcome::refuse_now; });  // the link goes down
  prober.start();
  ex.run_until(450ms);
  prober.stop();
  // The kept probe (sent at 0) is still waiting; the rounds at 100 ms (a fresh connection, still connecting...
  // it never echoes: pending), 200, 300 and 400 ms ask on fresh connections, refused at once from 150 ms on.
  ASSERT_EQ(sink.samples.size(), 3u);
  EXPECT_EQ(sink.samples[0].at, 200ms);
  EXPECT_EQ(sink.samples[1].at, 300ms);
  EXPECT_EQ(sink.samples[2].at, 400ms);
  for (const auto& s : sink.samples) EXPECT_TRUE(s.failure);
}

TEST(ActiveProber, AConnectionThatLostAProbeIsReplaced) {
  EventQueueExecutor ex;
  test::FakeStack stack(ex, "a");  // connects, never echoes
  Collect sink;
  ActiveProber prober(ex, {{&stack, kTarget, ProbeKind::echo}}, sink, {.interval = 1s, .timeout = 250ms});
  prober.start();
  ex.run_until(2100ms);
  prober.stop();
  ASSERT_EQ(sink.samples.size(), 2u);  // the kept probes of 0, 1 and 2 s: failed at 250 ms, 1.25 s; 2 s pending
  EXPECT_EQ(sink.samples[0].at, 250ms);
  EXPECT_EQ(sink.samples[1].at, 1250ms);
  EXPECT_EQ(stack.connects, 3);  // a new connection each time
}

}  // namespace
