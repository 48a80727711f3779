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
