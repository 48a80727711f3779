#include "dmm/nrd.hpp"

#include <gtest/gtest.h>

#include "dmm/algorithms.hpp"
#include "dmm/event_queue_executor.hpp"

using namespace std::chrono_literals;
using namespace dmm;

namespace {

class RecordingChannel final : public PolicyChannel {
public:
  void publish(std::shared_ptr<const Policy> p) override { published.push_back(p); }
  std::vector<std::shared_ptr<const Policy>> published;
};

Policy two_stack_policy() {
  Policy p;
  p.version = 1;
  p.rules.push_back(Rule{Match{}, {"fast", "slow"}});
  return p;
}

struct NrdFixture : ::testing::Test {
  EventQueueExecutor ex;
  RecordingChannel channel;
  std::unique_ptr<Nrd> nrd;

  void make(std::unique_ptr<PolicyAlgorithm> algo, NrdConfig cfg = {}) {
    nrd = std::make_unique<Nrd>(ex, std::vector<StackId>{"fast", "slow"}, std::move(algo), cfg, channel,
                                two_stack_policy());
  }
  void rtt(const StackId& s, Duration d) { nrd->on_sample({.stack = s, .at = ex.now(), .rtt = d}); }
};

TEST_F(NrdFixture, EwmaOfRttAndGoodputAndLoss) {
  NrdConfig cfg;
  cfg.ewma_alpha = 0.5;
  make(make_static_algorithm({}), cfg);
  nrd->start();
  rtt("fast", 10ms);
  rtt("fast", 20ms);
  EXPECT_EQ(nrd->estimates()[0].rtt, 15ms);
  nrd->on_sample({.stack = "fast", .delivered = 1'000'000, .interval = 1s, .segments_sent = 100, .retransmits = 10});
  EXPECT_DOUBLE_EQ(nrd->estimates()[0].goodput.value, 8e6);
  EXPECT_DOUBLE_EQ(nrd->estimates()[0].loss, 0.05);  // ewma from 0 with alpha 0.5
  EXPECT_FALSE(nrd->estimates()[1].has_rtt);
}

TEST_F(NrdFixture, SamplesAreIgnoredWhileStopped) {
  make(make_static_algorithm({}));
  rtt("fast", 10ms);
  EXPECT_FALSE(nrd->estimates()[0].has_rtt);
  nrd->start();
  rtt("fast", 10ms);
  EXPECT_TRUE(nrd->estimates()[0].has_rtt);
  rtt("unknown-stack", 10ms);  // ignored, no crash
}

TEST_F(NrdFixture, MinRttSwitchesWithinOnePeriodAndPublishesOnlyOnChange) {
  make(make_min_rtt_algorithm({{"hysteresis", 0.2}}));
  nrd->start();
  rtt("fast", 10ms);
  rtt("slow", 40ms);
  ex.run_for(2s);  // four periods, nothing changes: nothing published
  EXPECT_TRUE(channel.published.empty());
  for (int i = 0; i < 10; ++i) rtt("fast", 200ms);  // fast degrades
  ex.run_for(500ms);
  ASSERT_EQ(channel.published.size(), 1u);
  EXPECT_EQ(channel.published[0]->version, 2u);
  EXPECT_EQ(channel.published[0]->rules[0].use, (std::vector<StackId>{"slow", "fast"}));
  EXPECT_NE(channel.published[0]->reason.find("slow ahead of fast"), std::string::npos);
}

TEST_F(NrdFixture, HysteresisPreventsFlappingUnderNoise) {
  make(make_min_rtt_algorithm({{"hysteresis", 0.2}}));
  nrd->start();
  // Two paths within 10 % of each other, noisy: the order must not flip.
  for (int i = 0; i < 200; ++i) {
    rtt("fast", Duration(20ms) + Duration(std::chrono::microseconds((i * 7919) % 3000)));
    rtt("slow", Duration(19ms) + Duration(std::chrono::microseconds((i * 104729) % 3000)));
    ex.run_for(100ms);
  }
  EXPECT_TRUE(channel.published.empty());
}

TEST_F(NrdFixture, FailuresMakeAStackUnhealthyAndSuccessHealsIt) {
  NrdConfig cfg;
  cfg.failure_threshold = 2;
  make(make_static_algorithm({}), cfg);
  nrd->start();
  nrd->on_sample({.stack = "fast", .at = ex.now(), .failure = true});
  EXPECT_TRUE(nrd->estimates()[0].healthy);
  nrd->on_sample({.stack = "fast", .at = ex.now(), .failure = true});
  EXPECT_FALSE(nrd->estimates()[0].healthy);
  ex.run_for(500ms);
  ASSERT_EQ(channel.published.size(), 1u);
  EXPECT_EQ(channel.published[0]->down, std::vector<StackId>{"fast"});
  EXPECT_EQ(channel.published[0]->rules[0].use, (std::vector<StackId>{"fast", "slow"}));  // static: order kept
  rtt("fast", 10ms);
  ex.run_for(500ms);
  ASSERT_EQ(channel.published.size(), 2u);
  EXPECT_TRUE(channel.published[1]->down.empty());
  EXPECT_EQ(channel.published[1]->version, 3u);
}

TEST_F(NrdFixture, UnhealthyStackGetsRetriedAfterSilence) {
  NrdConfig cfg;
  cfg.retry_after = 2s;
  make(make_static_algorithm({}), cfg);
  nrd->start();
  nrd->on_sample({.stack = "slow", .at = ex.now(), .failure = true});
  nrd->on_sample({.stack = "slow", .at = ex.now(), .failure = true});
  ex.run_for(1s);
  EXPECT_FALSE(nrd->estimates()[1].healthy);
  ex.run_for(2s);
  EXPECT_TRUE(nrd->estimates()[1].healthy);
}

TEST_F(NrdFixture, StopCancelsDecisionsAndStartResumesVersions) {
  make(make_min_rtt_algorithm({{"hysteresis", 0.2}}));
  int periods = 0;
  nrd->on_period = [&](TimePoint, const StackEstimates&) { ++periods; };
  nrd->start();
  ex.run_for(1s);
  EXPECT_EQ(periods, 2);
  nrd->stop();
  ex.run_for(5s);
  EXPECT_EQ(periods, 2);
  nrd->start();
  rtt("fast", 100ms);
  rtt("slow", 10ms);
  ex.run_for(500ms);
  ASSERT_EQ(channel.published.size(), 1u);
  EXPECT_EQ(channel.published[0]->version, 2u);
}

}  // namespace

namespace {

TEST_F(NrdFixture, SamplesWithoutProgressNeitherHealNorResetFailures) {
  make(make_static_algorithm({}));
  nrd->start();
  nrd->on_sample({.stack = "fast", .at = ex.now(), .failure = true});
  // A stalled connection's periodic report: retransmissions, nothing delivered, no fresh RTT.
  nrd->on_sample({.stack = "fast", .at = ex.now(), .segments_sent = 4, .retransmits = 4});
  nrd->on_sample({.stack = "fast", .at = ex.now(), .failure = true});
  EXPECT_FALSE(nrd->estimates()[0].healthy);
  EXPECT_EQ(nrd->estimates()[0].failures, 2u);
  EXPECT_GT(nrd->estimates()[0].loss, 0.0);
}

}  // namespace

TEST_F(NrdFixture, PublishNowNumbersAfterTheCurrentVersionOrAboveAFloor) {
  make(make_static_algorithm({}));
  nrd->start();
  Policy pushed;
  pushed.rules.push_back(Rule{Match{}, {"slow", "fast"}});
  const Policy& p = nrd->publish_now(pushed);
  EXPECT_EQ(p.version, 2u);
  EXPECT_EQ(p.reason, "published on request");
  ASSERT_EQ(channel.published.size(), 1u);
  EXPECT_EQ(channel.published[0]->rules[0].use, (std::vector<StackId>{"slow", "fast"}));

  // A subscriber holds version 40 (the daemon lost its state): the same decisions again, above it.
  const Policy& again = nrd->publish_now(nrd->current(), 41);
  EXPECT_EQ(again.version, 41u);
  EXPECT_EQ(channel.published.size(), 2u);

  // Later periods start from what was published: the static algorithm keeps the pushed order.
  ex.run_for(2s);
  EXPECT_EQ(channel.published.size(), 2u);
  EXPECT_EQ(nrd->current().rules[0].use, (std::vector<StackId>{"slow", "fast"}));
  EXPECT_EQ(nrd->current().version, 41u);
}

namespace {

// Issue 12, item 3: estimates age.

TEST_F(NrdFixture, EstimatesNotRefreshedForExpireAfterAreForgotten) {
  NrdConfig cfg;
  cfg.expire_after = 2s;
  make(make_static_algorithm({}), cfg);
  nrd->start();
  nrd->on_sample({.stack = "fast", .at = ex.now(), .rtt = Duration(10ms), .delivered = 1'000'000, .interval = 1s,
                  .segments_sent = 16, .retransmits = 7});
  ex.run_for(1s);
  rtt("fast", 12ms);  // RTT refreshed, goodput and loss not
  ex.run_for(1500ms);  // 2.5 s after the first sample, 1.5 s after the second
  const StackEstimate& e = nrd->estimates()[0];
  EXPECT_TRUE(e.has_rtt);
  EXPECT_FALSE(e.has_goodput);
  EXPECT_FALSE(e.has_loss);
  EXPECT_EQ(e.loss, 0.0);
  ex.run_for(1s);
  EXPECT_FALSE(nrd->estimates()[0].has_rtt);
  // A fresh sample brings an estimate back.
  rtt("fast", 30ms);
  EXPECT_TRUE(nrd->estimates()[0].has_rtt);
  EXPECT_EQ(nrd->estimates()[0].rtt, 30ms);
}

TEST_F(NrdFixture, ExpireAfterZeroKeepsEstimatesForever) {
  NrdConfig cfg;
  cfg.expire_after = Duration::zero();
  make(make_static_algorithm({}), cfg);
  nrd->start();
  nrd->on_sample({.stack = "fast", .at = ex.now(), .rtt = Duration(10ms), .segments_sent = 16, .retransmits = 7});
  ex.run_for(60s);
  EXPECT_TRUE(nrd->estimates()[0].has_rtt);
  EXPECT_TRUE(nrd->estimates()[0].has_loss);
}

TEST_F(NrdFixture, EstimatesAgeWhileNrdIsStopped) {
  NrdConfig cfg;
  cfg.expire_after = 2s;
  make(make_static_algorithm({}), cfg);
  std::vector<bool> had_rtt;
  nrd->on_period = [&](TimePoint, const StackEstimates& e) { had_rtt.push_back(e[0].has_rtt); };
  nrd->start();
  rtt("fast", 10ms);
  ex.run_for(500ms);
  nrd->stop();
  ex.run_for(5s);
  nrd->start();
  ex.run_for(500ms);
  // The first period after a restart must not present a 5 s old RTT as current.
  EXPECT_EQ(had_rtt, (std::vector<bool>{true, false}));
}

// Issue 12, item 4: capacity. A backlogged sender's rate, maximised over the capacity window (BBR's filter).
PathSample backlogged(const StackId& stack, TimePoint at, double mbit_per_s) {
  const ByteCount bytes = static_cast<ByteCount>(mbit_per_s * 1e6 / 8 / 2);  // over half a second
  return {.stack = stack, .at = at, .delivered = bytes, .interval = 500ms, .acked_backlogged = bytes};
}

TEST_F(NrdFixture, CapacityIsTheHighestBackloggedRateWithinTheWindow) {
  NrdConfig cfg;
  cfg.capacity_window = 4s;
  cfg.expire_after = Duration::zero();
  make(make_static_algorithm({}), cfg);
  nrd->start();
  nrd->on_sample(backlogged("fast", ex.now(), 40));
  ex.run_for(1s);
  nrd->on_sample(backlogged("fast", ex.now(), 90));  // slow start over: the path's rate
  ex.run_for(1s);
  nrd->on_sample(backlogged("fast", ex.now(), 60));
  // An application-limited sample moves goodput, never capacity.
  nrd->on_sample({.stack = "fast", .at = ex.now(), .delivered = 125'000, .interval = 500ms});
  ex.run_for(500ms);
  const StackEstimate& e = nrd->estimates()[0];
  ASSERT_TRUE(e.has_capacity);
  EXPECT_NEAR(e.capacity.value, 90e6, 1.0);
  EXPECT_LT(e.goodput.value, 90e6);
  EXPECT_FALSE(nrd->estimates()[1].has_capacity);
  ex.run_for(2500ms);  // 4 s after the 90 Mbit/s sample: the 60 Mbit/s one (3 s old) is the window's maximum
  EXPECT_NEAR(nrd->estimates()[0].capacity.value, 60e6, 1.0);
  ex.run_for(1500ms);  // nothing backlogged for 4.5 s: no capacity estimate, even with expire_after 0
  EXPECT_FALSE(nrd->estimates()[0].has_capacity);
  EXPECT_EQ(nrd->estimates()[0].capacity.value, 0.0);
}

TEST_F(NrdFixture, MaxGoodputRanksAnIdleFastPathAboveABusySlowOneOnceCapacityIsKnown) {
  // slow carries many sessions (its goodput estimate follows their demand: 20 Mbit/s); fast's sessions moved
  // 3 Mbit/s, then one bulk transfer sent backlogged at 50 Mbit/s, which lifts fast's goodput EWMA only to
  // 14.75 Mbit/s: ranked on goodput, slow would stay first.
  make(make_max_goodput_algorithm({{"hysteresis", 0.2}}));
  nrd->start();
  nrd->on_sample({.stack = "slow", .at = ex.now(), .delivered = 1'250'000, .interval = 500ms});
  nrd->on_sample({.stack = "fast", .at = ex.now(), .delivered = 187'500, .interval = 500ms});
  ex.run_for(500ms);
  EXPECT_EQ(nrd->current().rules[0].use.front(), "slow");  // on demand alone the busy path wins
  nrd->on_sample(backlogged("fast", ex.now(), 50));
  ex.run_for(500ms);
  EXPECT_LT(nrd->estimates()[0].goodput.value, nrd->estimates()[1].goodput.value);
  EXPECT_EQ(nrd->current().rules[0].use.front(), "fast");
}

// A probe-like sample: a round trip and its one data segment, delivered without a retransmission.
PathSample clean_probe(const StackId& stack, TimePoint at, Duration rtt) {
  return {.stack = stack, .at = at, .rtt = rtt, .segments_sent = 1, .retransmits = 0};
}

// The run: `fast`'s delay jumped, its sessions saw spurious retransmissions (loss 7/16) and `weighted`
// moved everything to `slow`; then `fast` recovered, and only probes still looked at it.
struct RecoveredPath : NrdFixture {
  void degrade_then_recover(NrdConfig cfg, bool probes_carry_segments) {
    make(make_weighted_algorithm({{"hysteresis", 0.2}, {"rtt_weight", 1}, {"goodput_weight", 1}, {"loss_weight", 10}}),
         cfg);
    nrd->start();
    for (int i = 0; i < 4; ++i) {
      nrd->on_sample({.stack = "fast", .at = ex.now(), .rtt = Duration(400ms), .segments_sent = 16, .retransmits = 7});
      rtt("slow", 80ms);
      ex.run_for(250ms);
    }
    ASSERT_EQ(nrd->current().rules[0].use.front(), "slow");
    for (int i = 0; i < 120; ++i) {  // 30 s of probes every 250 ms: fast is back to 20 ms, slow stays at 80 ms
      PathSample probe = clean_probe("fast", ex.now(), 20ms);
      if (!probes_carry_segments) probe.segments_sent = 0;
      nrd->on_sample(probe);
      nrd->on_sample({.stack = "slow", .at = ex.now(), .rtt = Duration(80ms), .segments_sent = 4});
      ex.run_for(250ms);
    }
  }
};

TEST_F(RecoveredPath, WeightedReturnsWhenProbesRefreshLoss) {
  NrdConfig cfg;
  cfg.expire_after = Duration::zero();  // probes alone must be enough
  degrade_then_recover(cfg, true);
  EXPECT_EQ(nrd->current().rules[0].use.front(), "fast");
  EXPECT_LT(nrd->estimates()[0].loss, 0.01);
}

TEST_F(RecoveredPath, WeightedReturnsWhenTheLossEstimateExpires) {
  NrdConfig cfg;
  cfg.expire_after = 10s;
  degrade_then_recover(cfg, false);  // probes that say nothing about loss (connect probes)
  EXPECT_EQ(nrd->current().rules[0].use.front(), "fast");
  EXPECT_FALSE(nrd->estimates()[0].has_loss);
}

TEST_F(RecoveredPath, WithNeitherTheLossStaysFrozenAndWeightedNeverReturns) {
  // The behaviour before the fix, kept reachable (expire_after: 0s, connect probes) as the control.
  NrdConfig cfg;
  cfg.expire_after = Duration::zero();
  degrade_then_recover(cfg, false);
  EXPECT_EQ(nrd->current().rules[0].use.front(), "slow");
  EXPECT_GT(nrd->estimates()[0].loss, 0.2);
}

}  // namespace
