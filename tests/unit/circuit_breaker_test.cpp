// The node's circuit breaker (dmm/circuit_breaker.hpp), on its own: failures in a row mark a stack down in the
// orchestrator, a success or the retry time lifts the mark; and the rule that tells a silent loser from a slower one.
#include "dmm/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dmm/event_queue_executor.hpp"

namespace dmm {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Policy two_stacks() {
  Policy p;
  p.version = 1;
  Rule r;
  r.use = {"a", "b"};
  p.rules = {r};
  return p;
}

struct Change {
  StackIndex stack;
  bool healthy;
  std::string why;
};

class CircuitBreakerTest : public ::testing::Test {
protected:
  CircuitBreakerTest() {
    orchestrator_.set_local_health_observer([this](StackIndex s, bool healthy, std::string_view why) {
      changes_.push_back({s, healthy, std::string(why)});
    });
  }
  EventQueueExecutor executor_;
  Orchestrator orchestrator_{{"a", "b"}, two_stacks()};
  std::vector<Change> changes_;
  CircuitBreaker breaker_{executor_, orchestrator_, {2, seconds(5)}};
  const Error timeout_ = make_error(ETIMEDOUT, "no answer");
};

TEST_F(CircuitBreakerTest, TwoFailuresInARowMarkTheStackDownUntilTheRetryTime) {
  breaker_.note_failure(0, timeout_);
  EXPECT_TRUE(orchestrator_.locally_healthy(0));
  breaker_.note_failure(0, timeout_);
  EXPECT_FALSE(orchestrator_.locally_healthy(0));
  EXPECT_TRUE(orchestrator_.locally_healthy(1));
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].why, "2 set-up failures in a row; the last: no answer");
  executor_.run_for(milliseconds(4999));
  EXPECT_FALSE(orchestrator_.locally_healthy(0));
  executor_.run_for(milliseconds(1));
  EXPECT_TRUE(orchestrator_.locally_healthy(0));
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_EQ(changes_[1].why, "retry after 5s");
  // The count starts again after the retry: one failure does not mark it.
  breaker_.note_failure(0, timeout_);
  EXPECT_TRUE(orchestrator_.locally_healthy(0));
}

TEST_F(CircuitBreakerTest, ASuccessInBetweenStartsTheCountAgainAndASuccessLiftsAMark) {
  breaker_.note_failure(1, timeout_);
  breaker_.note_success(1);
  breaker_.note_failure(1, timeout_);
  EXPECT_TRUE(orchestrator_.locally_healthy(1));
  breaker_.note_failure(1, timeout_);
  EXPECT_FALSE(orchestrator_.locally_healthy(1));
  breaker_.note_success(1);
  EXPECT_TRUE(orchestrator_.locally_healthy(1));
  EXPECT_EQ(changes_.back().why, "a set-up succeeded");
  executor_.run_for(seconds(10));  // the retry timer was cancelled: no change of its own
  EXPECT_EQ(changes_.size(), 2u);
}

TEST_F(CircuitBreakerTest, AStackItDoesNotKnowIsIgnored) {
  breaker_.note_failure(7, timeout_);
  breaker_.note_failure(7, timeout_);
  breaker_.note_success(7);
  EXPECT_TRUE(changes_.empty());
}

TEST(LooksSilent, FourRoundTripsAndAtLeastTheAttemptDelayWithAnEstimate) {
  const AttemptDelay automatic;  // auto: two RTTs, clamped to 100 ms .. 2 s
  // RTT 10 ms: the delay is 100 ms (the minimum), four RTTs 40 ms: silent from 100 ms on.
  EXPECT_FALSE(looks_silent(milliseconds(99), automatic, milliseconds(10), seconds(1)));
  EXPECT_TRUE(looks_silent(milliseconds(100), automatic, milliseconds(10), seconds(1)));
  // RTT 155 ms (a path that jumped to 400 ms, the estimate lagging): four RTTs 620 ms; 390 ms is slow, not silent.
  EXPECT_FALSE(looks_silent(milliseconds(390), automatic, milliseconds(155), seconds(1)));
  EXPECT_TRUE(looks_silent(milliseconds(620), automatic, milliseconds(155), seconds(1)));
  // A fixed delay longer than four RTTs is the bar.
  EXPECT_FALSE(looks_silent(milliseconds(400), AttemptDelay{milliseconds(500)}, milliseconds(10), seconds(1)));
}

TEST(LooksSilent, WithoutAnEstimateOnlyTheLimit) {
  EXPECT_FALSE(looks_silent(milliseconds(999), AttemptDelay{}, std::nullopt, seconds(1)));
  EXPECT_TRUE(looks_silent(seconds(1), AttemptDelay{}, std::nullopt, seconds(1)));
}

}  // namespace
}  // namespace dmm
