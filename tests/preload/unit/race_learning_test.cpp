// What the shim's racer learns from its races (race_learning.hpp): its own handshake times stand in for dmm-nrd's
// RTT estimate while there is none, a silent loser or a path failure is a strike, a refusal or a slower loser is
// none, and a forked child starts without its parent's marks. (That only races somebody won teach failures is
// ConnectRace's part: ShimRace.ARaceNobodyWonStrikesNoStack.)
#include "race_learning.hpp"

#include <gtest/gtest.h>

#include <cerrno>

#include "dmm/event_queue_executor.hpp"

using namespace std::chrono_literals;
using namespace dmm;
using namespace dmm::preload;

namespace {

Policy two_stacks() {
  Policy p;
  p.version = 1;
  Rule r;
  r.use = {"blue", "red"};
  p.rules = {r};
  return p;
}

class RaceLearningTest : public ::testing::Test {
protected:
  EventQueueExecutor executor_;
  Orchestrator orchestrator_{{"blue", "red"}, two_stacks()};
  RaceLearning learning_{executor_, orchestrator_};
  const AttemptDelay automatic_{};
};

TEST_F(RaceLearningTest, HandshakeTimesStandInForDmmNrdsEstimateForTenSeconds) {
  EXPECT_EQ(learning_.rtt(0), std::nullopt);
  learning_.connected(0, 8ms);
  EXPECT_EQ(learning_.rtt(0), 8ms);
  learning_.connected(0, 16ms);
  EXPECT_EQ(learning_.rtt(0), 9ms);  // 7/8 of 8 ms + 1/8 of 16 ms
  // dmm-nrd's estimate wins while it has one.
  orchestrator_.set_rtt_estimate(0, 30ms, executor_.now());
  EXPECT_EQ(learning_.rtt(0), 30ms);
  orchestrator_.set_rtt_estimate(0, std::nullopt, executor_.now());
  EXPECT_EQ(learning_.rtt(0), 9ms);
  executor_.run_for(10s + 1ms);
  EXPECT_EQ(learning_.rtt(0), std::nullopt);
  // A sample after that starts afresh, not averaged with the stale value.
  learning_.connected(0, 40ms);
  EXPECT_EQ(learning_.rtt(0), 40ms);
}

TEST_F(RaceLearningTest, TwoSilentLosersMarkTheStackDownAndAConnectOnItLiftsTheMark) {
  learning_.connected(0, 1ms);  // blue answered in 1 ms once: 100 ms without an answer is silence
  learning_.lost(0, 210ms, automatic_);
  EXPECT_TRUE(orchestrator_.locally_healthy(0));
  learning_.lost(0, 205ms, automatic_);
  EXPECT_FALSE(orchestrator_.locally_healthy(0));
  learning_.connected(0, 1ms);
  EXPECT_TRUE(orchestrator_.locally_healthy(0));
}

TEST_F(RaceLearningTest, TheLastHandshakeIsTheSilenceYardstickHoweverOld) {
  // A stack that went silent is never measured again: a minute later its last handshake no longer sets the
  // attempt delay, but it still tells a silent loser (else the breaker would stop working 10 s after the fault).
  learning_.connected(0, 1ms);
  executor_.run_for(60s);
  EXPECT_EQ(learning_.rtt(0), std::nullopt);
  learning_.lost(0, 210ms, automatic_);
  learning_.lost(0, 210ms, automatic_);
  EXPECT_FALSE(orchestrator_.locally_healthy(0));
}

TEST_F(RaceLearningTest, ALoserThatWasMerelySlowerIsNoStrike) {
  learning_.connected(0, 150ms);  // a long path: four RTTs are 600 ms
  for (int i = 0; i < 5; ++i) learning_.lost(0, 400ms, automatic_);
  EXPECT_TRUE(orchestrator_.locally_healthy(0));
}

TEST_F(RaceLearningTest, WithoutAnyRttALoserIsSilentOnlyAfterASecond) {
  for (int i = 0; i < 3; ++i) learning_.lost(1, 900ms, automatic_);
  EXPECT_TRUE(orchestrator_.locally_healthy(1));
  learning_.lost(1, 1s, automatic_);
  learning_.lost(1, 1s, automatic_);
  EXPECT_FALSE(orchestrator_.locally_healthy(1));
  executor_.run_for(5s);  // the retry
  EXPECT_TRUE(orchestrator_.locally_healthy(1));
}

TEST_F(RaceLearningTest, PathFailuresStrikeRefusalsAndUnknownErrorsDoNot) {
  for (int err : {ECONNREFUSED, 0, ECONNRESET, ECONNREFUSED}) learning_.failed(0, err);
  EXPECT_TRUE(orchestrator_.locally_healthy(0));
  learning_.failed(0, ETIMEDOUT);
  learning_.failed(0, EHOSTUNREACH);
  EXPECT_FALSE(orchestrator_.locally_healthy(0));
}

TEST_F(RaceLearningTest, AForkedChildTellsSilenceByItsParentsHandshakesButSetsNoDelayByThem) {
  learning_.connected(0, 1ms);
  EventQueueExecutor child_clock;
  RaceLearning child(child_clock, orchestrator_);
  child.inherit(learning_);
  EXPECT_EQ(child.rtt(0), std::nullopt);  // the parent's clock is not the child's: no delay from it
  EXPECT_EQ(child.rtt(1), std::nullopt);
  child.lost(0, 210ms, automatic_);
  child.lost(0, 210ms, automatic_);
  EXPECT_FALSE(orchestrator_.locally_healthy(0));  // but 210 ms unanswered is silence for a 1 ms stack
}

TEST_F(RaceLearningTest, AForkedChildStartsWithoutItsParentsMarks) {
  learning_.failed(1, ENETUNREACH);
  learning_.failed(1, ENETUNREACH);
  ASSERT_FALSE(orchestrator_.locally_healthy(1));
  lift_local_marks_after_fork(orchestrator_);
  EXPECT_TRUE(orchestrator_.locally_healthy(1));
}

}  // namespace
