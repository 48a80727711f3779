#include "dmm/policy_channel.hpp"

#include <gtest/gtest.h>

#include "dmm/event_queue_executor.hpp"
#include "dmm/orchestrator.hpp"

using namespace std::chrono_literals;
using namespace dmm;

namespace {

Policy version(PolicyVersion v, StackId first) {
  Policy p;
  p.version = v;
  p.rules.push_back(Rule{Match{}, {first, first == "a" ? "b" : "a"}});
  return p;
}

TEST(InProcessPolicyChannel, DeliversAfterTheDelayToEverySubscriber) {
  EventQueueExecutor ex;
  Orchestrator o1({"a", "b"}, version(1, "a")), o2({"a", "b"}, version(1, "a"));
  InProcessPolicyChannel ch(ex, 5ms);
  ch.subscribe(o1);
  ch.subscribe(o2);
  ch.publish(std::make_shared<const Policy>(version(2, "b")));
  ex.run_for(4ms);
  EXPECT_EQ(o1.version(), 1u);
  ex.run_for(1ms);
  EXPECT_EQ(o1.version(), 2u);
  EXPECT_EQ(o2.version(), 2u);
  EXPECT_EQ(ch.delivered(), 2u);
}

TEST(InProcessPolicyChannel, StaleVersionsAreRejectedNotRolledBack) {
  EventQueueExecutor ex;
  Orchestrator o({"a", "b"}, version(1, "a"));
  InProcessPolicyChannel ch(ex, 1ms);
  ch.subscribe(o);
  ch.publish(std::make_shared<const Policy>(version(3, "b")));
  ch.publish(std::make_shared<const Policy>(version(2, "a")));
  ex.run_for(10ms);
  EXPECT_EQ(o.version(), 3u);
  EXPECT_EQ(ch.rejected(), 1u);
  EXPECT_EQ(o.counters().rejected_stale, 1u);
}

}  // namespace
