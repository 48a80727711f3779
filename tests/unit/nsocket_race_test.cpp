// nSocket racing a rule's ranked stacks (RFC 8305's staggered attempts, failover, simultaneous): who starts when,
// who wins, what the losers cost (nothing at nRD, a close at once) and how `attempt_delay: auto` reads nRD's RTT.
#include <gtest/gtest.h>

#include "dmm/nsocket.hpp"
#include "fake_stack.hpp"

using namespace std::chrono_literals;
using namespace dmm;
using dmm::test::ConnectOutcome;
using dmm::test::FakeStack;
using Samples = dmm::test::RecordedSamples;

namespace {

struct Events final : SessionEvents {
  void on_established(const Decision& d) override {
    established_at = at();
    decision = d;
  }
  void on_failed(const Error& e, const Decision& d) override {
    failed = true;
    error = e;
    decision = d;
  }
  std::function<TimePoint()> at;
  std::optional<TimePoint> established_at;
  bool failed = false;
  Error error;
  Decision decision;
};

Policy racing(RaceMode race, AttemptDelay delay = std::nullopt, std::vector<StackId> down = {}) {
  Policy p;
  p.version = 2;
  Rule rule;
  rule.use = {"a", "b", "c"};
  rule.race = race;
  rule.attempt_delay = delay;
  p.rules.push_back(rule);
  p.down = std::move(down);
  return p;
}

struct RaceFixture : ::testing::Test {
  EventQueueExecutor ex;
  FakeStack a{ex, "a"}, b{ex, "b"}, c{ex, "c"};
  Orchestrator orch{{"a", "b", "c"}, racing(RaceMode::staggered)};
  Samples samples;
  NSocket ns{ex, orch, {&a, &b, &c}, &samples, NSocketConfig{}};  // connect_timeout 1 s
  SessionRequest web{.dst = {IpAddress::v4(0x0a000001), 80}};

  void use(const Policy& p) {
    Policy next = p;
    next.version = orch.version() + 1;
    ASSERT_TRUE(orch.apply(next).ok());
  }
  // Opens a session at the current time and runs the executor for `run`; its events record when it connected.
  std::unique_ptr<Session> open(Events& ev, Duration run = 3s, NSocket* on = nullptr) {
    ev.at = [this] { return ex.now(); };
    auto s = (on ? *on : ns).open(web, ev);
    EXPECT_TRUE(s.ok());
    ex.run_for(run);
    return s ? std::move(*s) : nullptr;
  }
};

TEST_F(RaceFixture, AHealthyFirstStackNeverStartsASecondAttempt) {
  Events ev;
  auto s = open(ev);
  ASSERT_TRUE(ev.established_at);
  EXPECT_EQ(*ev.established_at, TimePoint(20ms));
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:ok");
  EXPECT_EQ(b.connects + c.connects, 0);
  s->close();
}

TEST_F(RaceFixture, ASilentFirstStackLosesToTheNextAfterTheAttemptDelay) {
  use(racing(RaceMode::staggered, 250ms));
  a.outcome = ConnectOutcome::never_answer;
  Events ev;
  auto s = open(ev);
  ASSERT_TRUE(ev.established_at);
  EXPECT_EQ(*ev.established_at, TimePoint(270ms));  // the delay, then b's 20 ms handshake
  EXPECT_EQ(ev.decision.stack, "b");
  EXPECT_EQ(ev.decision.race, RaceMode::staggered);
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:lost;b:ok@250ms");
  EXPECT_EQ(a.closes, 1);  // the loser is closed at once, not left to time out
  EXPECT_EQ(samples.failures("a"), 0);  // losing is not failing: nRD hears nothing bad of a
  EXPECT_EQ(c.connects, 0);
  s->close();
}

TEST_F(RaceFixture, ASilentStackThatKeepsLosingIsMarkedDownByThisNodeNotByNrd) {
  use(racing(RaceMode::staggered, 250ms));
  orch.set_rtt_estimate(0, 20ms, ex.now());  // a's usual RTT: 270 ms without an answer is far beyond four of them
  a.outcome = ConnectOutcome::never_answer;
  Events e1, e2, e3;
  auto s1 = open(e1, 500ms);
  auto s2 = open(e2, 500ms);
  // Two races lost without an answer within the delay: the circuit breaker's two strikes. nRD heard nothing.
  EXPECT_EQ(samples.failures("a"), 0);
  EXPECT_FALSE(orch.locally_healthy(0));
  auto s3 = open(e3, 500ms);
  EXPECT_EQ(format_attempts(e3.decision.trail), "a:local-down;b:ok");  // no delay paid any more
  for (auto* s : {&s1, &s2, &s3}) (*s)->close();
}

TEST_F(RaceFixture, ASlowerPathWhoseEstimateLagsIsNoStrike) {
  // a's RTT jumped to 390 ms, nRD's estimate still says 155: auto waits 310 ms, b wins at 330 ms. a was slower,
  // not silent (330 ms is not four of its 155 ms round trips): no strike, however often it loses.
  orch.set_rtt_estimate(0, 155ms, ex.now());
  a.handshake = 390ms;
  for (int i = 0; i < 3; ++i) {
    Events ev;
    auto s = open(ev, 500ms);
    EXPECT_EQ(format_attempts(ev.decision.trail), "a:lost;b:ok@310ms");
    s->close();
  }
  EXPECT_TRUE(orch.locally_healthy(0));
  // Without any estimate the yardstick is connect_timeout (1 s): a silent loser at 270 ms is no strike either.
  orch.set_rtt_estimate(0, std::nullopt, ex.now());
  a.outcome = ConnectOutcome::never_answer;
  for (int i = 0; i < 3; ++i) {
    Events ev;
    auto s = open(ev, 500ms);
    s->close();
  }
  EXPECT_TRUE(orch.locally_healthy(0));
}

TEST_F(RaceFixture, ALoserThatWasStillWithinItsDelayIsNoStrike) {
  use(racing(RaceMode::simultaneous));
  a.outcome = ConnectOutcome::never_answer;
  Events e1, e2, e3;
  auto s1 = open(e1, 500ms);
  auto s2 = open(e2, 500ms);
  auto s3 = open(e3, 500ms);
  // Each lost to b after 20 ms, well within its 250 ms delay: slower is not silent.
  EXPECT_TRUE(orch.locally_healthy(0));
  EXPECT_EQ(format_attempts(e3.decision.trail), "a:lost;b:ok;c:lost");
  for (auto* s : {&s1, &s2, &s3}) (*s)->close();
}

TEST_F(RaceFixture, ClosingASessionThatGaveUpDeliversNothing) {
  a.outcome = b.outcome = c.outcome = ConnectOutcome::refuse_now;
  Events ev;
  auto s = ns.open(web, ev);
  ASSERT_TRUE(s.ok());
  (*s)->close();  // before the (asynchronous) failure is delivered
  ex.run_for(10ms);
  EXPECT_FALSE(ev.failed);
}

TEST_F(RaceFixture, ThoseStillConnectingWhenAnotherWinsAreAllClosed) {
  use(racing(RaceMode::staggered, 100ms));
  a.outcome = b.outcome = ConnectOutcome::never_answer;
  Events ev;
  auto s = open(ev);
  EXPECT_EQ(*ev.established_at, TimePoint(220ms));
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:lost;b:lost@100ms;c:ok@200ms");
  EXPECT_EQ(a.closes + b.closes, 2);
  EXPECT_EQ(samples.failures("a") + samples.failures("b"), 0);
  s->close();
}

TEST_F(RaceFixture, AFailureStartsTheNextAttemptAtOnce) {
  use(racing(RaceMode::staggered, 250ms));
  a.outcome = ConnectOutcome::fail_later;  // refused after 20 ms
  Events ev;
  auto s = open(ev);
  EXPECT_EQ(*ev.established_at, TimePoint(40ms));
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:refused;b:ok@20ms");
  EXPECT_EQ(samples.failures("a"), 1);  // a real failure is one
  s->close();
}

TEST_F(RaceFixture, AnAttemptThatTimesOutIsAFailureEvenWhileOthersRace) {
  use(racing(RaceMode::staggered, 250ms));
  a.outcome = b.outcome = c.outcome = ConnectOutcome::never_answer;
  Events ev;
  auto s = open(ev);
  ASSERT_TRUE(ev.failed);
  EXPECT_EQ(ev.error.code, ETIMEDOUT);
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:connect-timeout;b:connect-timeout@250ms;c:connect-timeout@500ms");
  EXPECT_EQ(samples.failures("a") + samples.failures("b") + samples.failures("c"), 3);
}

TEST_F(RaceFixture, FailoverWaitsForTheConnectTimeoutAsBefore) {
  use(racing(RaceMode::failover));
  a.outcome = ConnectOutcome::never_answer;
  Events ev;
  auto s = open(ev);
  EXPECT_EQ(*ev.established_at, TimePoint(1020ms));
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:connect-timeout;b:ok@1000ms");
  EXPECT_EQ(samples.failures("a"), 1);
  s->close();
}

TEST_F(RaceFixture, SimultaneousStartsEveryHealthyStackAtOnce) {
  use(racing(RaceMode::simultaneous));
  a.outcome = ConnectOutcome::never_answer;
  c.handshake = 30ms;
  Events ev;
  auto s = open(ev);
  EXPECT_EQ(*ev.established_at, TimePoint(20ms));
  EXPECT_EQ(format_attempts(ev.decision.trail), "a:lost;b:ok;c:lost");
  EXPECT_EQ(a.connects + b.connects + c.connects, 3);
  EXPECT_EQ(a.closes + c.closes, 2);
  s->close();
}

TEST_F(RaceFixture, StacksMarkedDownAreNotRacedButStillTriedLast) {
  use(racing(RaceMode::staggered, 100ms, {"b"}));
  a.outcome = ConnectOutcome::never_answer;
  Events ev;
  auto s = open(ev);
  EXPECT_EQ(format_attempts(ev.decision.trail), "b:down;a:lost;c:ok@100ms");
  s->close();
  // With every healthy one failing, the one marked down still gets its turn, after them.
  a.outcome = c.outcome = ConnectOutcome::never_answer;
  Events last;
  auto t = open(last);
  ASSERT_TRUE(last.established_at);
  EXPECT_EQ(format_attempts(last.decision.trail), "b:down;a:connect-timeout;c:connect-timeout@100ms;b:ok@1100ms");
  t->close();
}

TEST_F(RaceFixture, ClosingASessionWhileItRacesClosesEveryAttemptAndBlamesNone) {
  use(racing(RaceMode::staggered, 100ms));
  a.outcome = b.outcome = ConnectOutcome::never_answer;
  Events ev;
  auto s = open(ev, 150ms);
  EXPECT_EQ(a.connects + b.connects, 2);
  s->close();
  EXPECT_EQ(a.closes + b.closes, 2);
  ex.run_for(3s);
  EXPECT_FALSE(ev.established_at);
  EXPECT_FALSE(ev.failed);
  EXPECT_EQ(c.connects, 0);
  EXPECT_EQ(samples.failures("a") + samples.failures("b"), 0);
  EXPECT_EQ(ns.live_sessions(), 0u);
}

TEST_F(RaceFixture, TheWinnersEventsReachTheApplication) {
  use(racing(RaceMode::staggered, 100ms));
  a.outcome = ConnectOutcome::never_answer;
  b.echo_after = 5ms;
  struct Echo final : SessionEvents {
    void on_established(const Decision&) override { up = true; }
    void on_readable() override { ++readable; }
    bool up = false;
    int readable = 0;
  } ev;
  auto s = ns.open(web, ev);
  ASSERT_TRUE(s.ok());
  ex.run_for(200ms);
  ASSERT_TRUE(ev.up);
  const std::array<std::byte, 10> hello{};
  ASSERT_TRUE((*s)->send(hello).ok());
  ex.run_for(50ms);
  EXPECT_EQ(ev.readable, 1);
  std::array<std::byte, 64> buf{};
  EXPECT_EQ((*s)->receive(buf).value(), 10u);
  (*s)->close();
}

// --- attempt_delay: auto -------------------------------------------------------------------------------------

struct AutoDelay : RaceFixture {
  // When b starts, with a silent: the attempt delay auto chose for waiting on a.
  // A connect timeout longer than any delay: a must still be waited on when the delay ends.
  NSocket patient{ex, orch, {&a, &b, &c}, &samples, [] {
                    NSocketConfig c;
                    c.connect_timeout = 5s;
                    return c;
                  }()};
  Duration b_started_after() {
    a.outcome = ConnectOutcome::never_answer;
    Events ev;
    const TimePoint opened = ex.now();
    auto s = open(ev, 6s, &patient);
    EXPECT_TRUE(ev.established_at);
    s->close();
    return *ev.established_at - opened - b.handshake;
  }
};

TEST_F(AutoDelay, IsTwiceNrdsRttOfTheStackWaitedOn) {
  orch.set_rtt_estimate(0, 300ms, ex.now());
  EXPECT_EQ(b_started_after(), 600ms);
}

TEST_F(AutoDelay, IsClampedToRfc8305sBounds) {
  orch.set_rtt_estimate(0, 10ms, ex.now());
  EXPECT_EQ(b_started_after(), kMinAttemptDelay);
  orch.set_rtt_estimate(0, 5s, ex.now());
  EXPECT_EQ(b_started_after(), kMaxAttemptDelay);
}

TEST_F(AutoDelay, Is250msWithoutAnEstimateOrWithAnOldOne) {
  EXPECT_EQ(b_started_after(), kFallbackAttemptDelay);
  orch.set_rtt_estimate(0, 300ms, ex.now());
  ex.run_for(NSocketConfig{}.rtt_estimate_max_age + 1ms);  // nRD went quiet: its estimate ages out
  EXPECT_EQ(b_started_after(), kFallbackAttemptDelay);
  orch.set_rtt_estimate(0, std::nullopt, ex.now());
  EXPECT_EQ(b_started_after(), kFallbackAttemptDelay);
}

TEST_F(AutoDelay, AFixedDelayIgnoresTheEstimate) {
  use(racing(RaceMode::staggered, 400ms));
  orch.set_rtt_estimate(0, 300ms, ex.now());
  EXPECT_EQ(b_started_after(), 400ms);
}

// --- the rule's settings ---------------------------------------------------------------------------------------

TEST(RaceSettings, ParseAndPrint) {
  EXPECT_EQ(parse_race_mode("staggered"), RaceMode::staggered);
  EXPECT_EQ(parse_race_mode("failover"), RaceMode::failover);
  EXPECT_EQ(parse_race_mode("simultaneous"), RaceMode::simultaneous);
  EXPECT_FALSE(parse_race_mode("happy"));
  EXPECT_EQ(parse_attempt_delay("auto").value(), AttemptDelay{});
  EXPECT_EQ(parse_attempt_delay("250ms").value(), AttemptDelay{250ms});
  EXPECT_EQ(format_attempt_delay(AttemptDelay{250ms}), "250ms");
  EXPECT_EQ(format_attempt_delay(AttemptDelay{}), "auto");
  for (const char* bad : {"5ms", "11s", "fast", "", "250.5ms"}) {
    auto r = parse_attempt_delay(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_NE(parse_attempt_delay("5ms").error().message.find("'5ms' is outside 10ms..10s"), std::string::npos)
      << parse_attempt_delay("5ms").error().message;
}

TEST(RaceSettings, ValidateRefusesDelaysOutOfRange) {
  Policy p = racing(RaceMode::staggered, 5ms);
  auto st = validate(p, {"a", "b", "c"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("attempt_delay 5ms"), std::string::npos) << st.error().message;
}

TEST(RaceSettings, TheOrchestratorHandsTheRulesSettingsOut) {
  Orchestrator orch({"a", "b", "c"}, racing(RaceMode::simultaneous, 300ms));
  auto choice = orch.select({.dst = {IpAddress::v4(0x0a000001), 80}});
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->race, RaceMode::simultaneous);
  EXPECT_EQ(choice->attempt_delay, AttemptDelay{300ms});
}

}  // namespace
