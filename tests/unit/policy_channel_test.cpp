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

namespace {

TEST(Orchestrator, RecoveryReportedByNrdClearsALocalSuspicion) {
  Policy p1;
  p1.version = 1;
  p1.rules.push_back(Rule{Match{}, {"a", "b"}});
  Orchestrator o({"a", "b"}, p1);
  Policy p2 = p1;
  p2.version = 2;
  p2.down = {"a"};
  ASSERT_TRUE(o.apply(p2).ok());
  o.set_local_health(0, false);  // nSocket also saw `a` fail
  Policy p3 = p1;
  p3.version = 3;  // nRD: `a` is back
  ASSERT_TRUE(o.apply(p3).ok());
  EXPECT_EQ(o.select({}).value().stack, 0);
  // A local mark made while the policy says nothing about health stays.
  o.set_local_health(0, false);
  Policy p4 = p1;
  p4.version = 4;
  ASSERT_TRUE(o.apply(p4).ok());
  EXPECT_EQ(o.select({}).value().stack, 1);
}

}  // namespace
