#include "dmm/nsocket.hpp"

#include <gtest/gtest.h>

#include "fake_stack.hpp"

using namespace std::chrono_literals;
using namespace dmm;
using dmm::test::ConnectOutcome;
using dmm::test::FakeStack;
using Samples = dmm::test::RecordedSamples;

namespace {

struct Events final : SessionEvents {
  void on_established(const Decision& d) override {
    established = true;
    decision = d;
  }
  void on_failed(const Error& e, const Decision& d) override {
    failed = true;
    error = e;
    decision = d;
  }
  bool established = false, failed = false;
  Error error;
  Decision decision;
};

Policy ranked_policy() {
  Policy p;
  p.version = 7;
  Rule web;
  web.match.ports = PortRange{80, 80};
  web.use = {"a", "b", "c"};
  web.race = RaceMode::failover;  // these tests are about falling back after failures; racing: nsocket_race_test
  p.rules.push_back(web);
  Rule rest;
  rest.match.ports = PortRange{1000, 2000};
  rest.use = {"c"};
  p.rules.push_back(rest);
  return p;
}

struct NSocketFixture : ::testing::Test {
  EventQueueExecutor ex;
  FakeStack a{ex, "a"}, b{ex, "b"}, c{ex, "c"};
  Orchestrator orch{{"a", "b", "c"}, ranked_policy()};
  Samples samples;
  NSocketConfig cfg = [] {
    NSocketConfig c;
    c.connect_timeout = 300ms;
    return c;
  }();
  NSocket ns{ex, orch, {&a, &b, &c}, &samples, cfg};
  SessionRequest web{.dst = {IpAddress::v4(0x0a000001), 80}};
};

TEST_F(NSocketFixture, FirstChoiceCarriesTheSessionAndTheDecisionIsRecorded) {
  Events ev;
  auto s = ns.open(web, ev);
  ASSERT_TRUE(s.ok());
  ex.run_for(1s);
  EXPECT_TRUE(ev.established);
  EXPECT_EQ(ev.decision.stack, "a");
  EXPECT_EQ(ev.decision.rule, 0);
  EXPECT_EQ(ev.decision.policy_version, 7u);
  EXPECT_EQ(ev.decision.attempts, 1u);
  // The handshake gives nRD an RTT sample.
  ASSERT_FALSE(samples.all.empty());
  EXPECT_EQ(samples.all[0].stack, "a");
  EXPECT_EQ(samples.all[0].rtt, Duration(20ms));
  (*s)->close();
  EXPECT_EQ(ns.live_sessions(), 0u);
}

TEST_F(NSocketFixture, ImmediateFailureFallsBackToTheNextRankedStack) {
  a.outcome = ConnectOutcome::refuse_now;
  Events ev;
  auto s = ns.open(web, ev);
  ex.run_for(1s);
  EXPECT_TRUE(ev.established);
  EXPECT_EQ(ev.decision.stack, "b");
  EXPECT_EQ(ev.decision.attempts, 2u);
  EXPECT_EQ(samples.failures("a"), 1);
}

TEST_F(NSocketFixture, AsyncFailureAndTimeoutBothFallBack) {
  a.outcome = ConnectOutcome::fail_later;
  b.outcome = ConnectOutcome::never_answer;
  Events ev;
  auto s = ns.open(web, ev);
  ex.run_for(200ms);
  EXPECT_FALSE(ev.established);
  ex.run_for(1s);
  EXPECT_TRUE(ev.established);
  EXPECT_EQ(ev.decision.stack, "c");
  EXPECT_EQ(ev.decision.attempts, 3u);
  EXPECT_EQ(samples.failures("a"), 1);
  EXPECT_EQ(samples.failures("b"), 1);
  EXPECT_EQ(b.closes, 1);  // the timed-out attempt was torn down
}

TEST_F(NSocketFixture, AllStacksFailingReportsOneFailureAsynchronously) {
  a.outcome = b.outcome = c.outcome = ConnectOutcome::refuse_now;
  Events ev;
  auto s = ns.open(web, ev);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(ev.failed);  // never from inside open()
  ex.run_for(10ms);
  EXPECT_TRUE(ev.failed);
  EXPECT_EQ(ev.error.code, ENETUNREACH);
  EXPECT_EQ(ev.decision.attempts, 3u);
}

TEST_F(NSocketFixture, NoMatchingRuleFailsOpen) {
  Events ev;
  SessionRequest other{.dst = {IpAddress::v4(0x0a000001), 443}};
  auto s = ns.open(other, ev);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ENETUNREACH);
}

TEST_F(NSocketFixture, RepeatedSetupFailuresTripTheLocalCircuitBreaker) {
  a.outcome = ConnectOutcome::refuse_now;
  Events e1, e2, e3;
  auto s1 = ns.open(web, e1);
  auto s2 = ns.open(web, e2);
  ex.run_for(100ms);
  EXPECT_EQ(a.connects, 2);
  // Now `a` is locally unhealthy: new sessions go straight to `b` ...
  auto s3 = ns.open(web, e3);
  ex.run_for(100ms);
  EXPECT_EQ(a.connects, 2);
  EXPECT_EQ(e3.decision.stack, "b");
  EXPECT_EQ(e3.decision.attempts, 1u);
  // ... until the retry timer gives it another chance.
  a.outcome = ConnectOutcome::succeed;
  ex.run_for(cfg.local_retry_after);
  Events e4;
  auto s4 = ns.open(web, e4);
  ex.run_for(100ms);
  EXPECT_EQ(e4.decision.stack, "a");
}

TEST_F(NSocketFixture, LiveSessionsAreSampledAndClosingGivesAFinalSample) {
  Events ev;
  auto s = ns.open(web, ev);
  ex.run_for(100ms);
  ASSERT_TRUE(ev.established);
  std::vector<std::byte> chunk(64 * 1024);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE((*s)->send(chunk).ok());
    ex.run_for(100ms);
  }
  std::size_t with_goodput = 0;
  for (auto& smp : samples.all) with_goodput += smp.delivered > 0;
  EXPECT_GE(with_goodput, 2u);
  const auto before = samples.all.size();
  (*s)->close();
  EXPECT_GT(samples.all.size(), before);
  EXPECT_EQ((*s)->metrics().bytes_sent, 8u * 64 * 1024);
}

TEST_F(NSocketFixture, StacksMissingOnThisNodeAreSkippedWithoutBlame) {
  NSocket partial{ex, orch, {nullptr, &b, &c}, &samples, cfg};
  Events ev;
  auto s = partial.open(web, ev);
  ex.run_for(100ms);
  EXPECT_EQ(ev.decision.stack, "b");
  EXPECT_EQ(samples.failures("a"), 0);
  (*s)->close();
}

TEST_F(NSocketFixture, TheTrailNamesEveryStackTriedAndWhyItFailed) {
  a.outcome = ConnectOutcome::fail_later;
  b.outcome = ConnectOutcome::never_answer;
  Events ev;
  auto s = ns.open(web, ev);
  ex.run_for(1s);
  ASSERT_TRUE(ev.established);
  // a refuses after its 20 ms handshake, b gets no answer for connect_timeout (300 ms).
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:refused;b:connect-timeout@20ms;c:ok@320ms");
  (*s)->close();
}

TEST_F(NSocketFixture, AFailedSessionKeepsItsTrail) {
  a.outcome = b.outcome = c.outcome = ConnectOutcome::refuse_now;
  Events ev;
  auto s = ns.open(web, ev);
  ex.run_for(10ms);
  ASSERT_TRUE(ev.failed);
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:unreachable;b:unreachable;c:unreachable");
}

TEST_F(NSocketFixture, StacksPassedOverByTheCircuitBreakerAreInTheTrail) {
  // The hidden decision of issue 12: the policy ranks `a` first, nRD calls it healthy, yet this node's breaker
  // sends sessions to `b`. The trail must say so.
  a.outcome = ConnectOutcome::refuse_now;
  Events e1, e2, e3;
  auto s1 = ns.open(web, e1);
  auto s2 = ns.open(web, e2);
  ex.run_for(100ms);
  auto s3 = ns.open(web, e3);
  ex.run_for(100ms);
  ASSERT_TRUE(e3.established);
  EXPECT_EQ(format_attempts(e3.decision.trail), "a:local-down;b:ok");
  EXPECT_EQ(e3.decision.attempts, 1u);  // passed over is not tried
}

TEST_F(NSocketFixture, StacksThePolicyListsDownArePassedOverAsDown) {
  Policy p = ranked_policy();
  p.version = 8;
  p.down = {"a"};
  ASSERT_TRUE(orch.apply(p).ok());
  Events ev;
  auto s = ns.open(web, ev);
  ex.run_for(100ms);
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:down;b:ok");
  (*s)->close();
}

TEST_F(NSocketFixture, AbsentStacksAreInTheTrail) {
  NSocket partial{ex, orch, {nullptr, &b, &c}, &samples, cfg};
  Events ev;
  auto s = partial.open(web, ev);
  ex.run_for(100ms);
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:absent;b:ok");
  (*s)->close();
}

TEST_F(NSocketFixture, LocalHealthChangesAreToldWithTheirReason) {
  struct Change {
    StackIndex stack;
    bool healthy;
    std::string why;
  };
  std::vector<Change> changes;
  orch.set_local_health_observer([&](StackIndex i, bool healthy, std::string_view why) {
    changes.push_back({i, healthy, std::string(why)});
  });
  a.outcome = ConnectOutcome::refuse_now;
  Events e1, e2, e3;
  auto s1 = ns.open(web, e1);
  auto s2 = ns.open(web, e2);
  ex.run_for(100ms);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].stack, 0);
  EXPECT_FALSE(changes[0].healthy);
  EXPECT_NE(changes[0].why.find("2 set-up failures in a row"), std::string::npos) << changes[0].why;
  EXPECT_NE(changes[0].why.find("no route"), std::string::npos) << changes[0].why;
  ex.run_for(cfg.local_retry_after);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[1].healthy);
  EXPECT_EQ(changes[1].why, "retry after 5s");
  // A mark that does not change is not a change.
  orch.set_local_health(0, true, "again");
  EXPECT_EQ(changes.size(), 2u);
}

TEST_F(NSocketFixture, SendBeforeEstablishedIsENOTCONN) {
  Events ev;
  auto s = ns.open(web, ev);
  std::byte one{};
  auto r = (*s)->send({&one, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOTCONN);
  (*s)->close();
}

}  // namespace
