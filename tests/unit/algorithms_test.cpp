#include "dmm/algorithms.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace dmm;

namespace {

StackEstimate est(const StackId& id, std::optional<Duration> rtt, std::optional<double> goodput_mbps,
                  double loss = 0, bool healthy = true) {
  StackEstimate e;
  e.stack = id;
  if (rtt) {
    e.has_rtt = true;
    e.rtt = *rtt;
  }
  if (goodput_mbps) {
    e.has_goodput = true;
    e.goodput.value = *goodput_mbps * 1e6;
  }
  e.loss = loss;
  e.healthy = healthy;
  return e;
}

Policy policy(std::vector<StackId> use, std::optional<Intent> intent = std::nullopt) {
  Policy p;
  Rule r;
  r.match.intent = intent;
  r.use = std::move(use);
  p.rules.push_back(r);
  return p;
}

TEST(Algorithms, RegistryKnowsBuiltinsAndRejectsUnknownNamesAndParams) {
  auto reg = AlgorithmRegistry::with_builtins();
  EXPECT_EQ(reg.names(), (std::vector<std::string>{"max-goodput", "min-rtt", "static", "weighted"}));
  EXPECT_TRUE(reg.create("min-rtt", {{"hysteresis", 0.1}}).ok());
  auto unknown = reg.create("fastest", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown algorithm 'fastest'"), std::string::npos);
  auto bad_param = reg.create("min-rtt", {{"hysteresys", 0.1}});
  ASSERT_FALSE(bad_param.ok());
  EXPECT_NE(bad_param.error().message.find("'hysteresys'"), std::string::npos);
  EXPECT_FALSE(reg.create("min-rtt", {{"hysteresis", 1.5}}).ok());
  EXPECT_FALSE(reg.add({"static", {}, make_static_algorithm}).ok());
}

TEST(Algorithms, StaticNeverReorders) {
  auto a = make_static_algorithm({});
  auto p = a->decide({est("a", 500ms, 1), est("b", 1ms, 100)}, policy({"a", "b"}));
  EXPECT_EQ(p.rules[0].use, (std::vector<StackId>{"a", "b"}));
}

TEST(Algorithms, MinRttOrdersByRttWithHysteresis) {
  auto a = make_min_rtt_algorithm({{"hysteresis", 0.2}});
  // 15 % better is not enough to overtake ...
  EXPECT_EQ(a->decide({est("a", 100ms, {}), est("b", 85ms, {})}, policy({"a", "b"})).rules[0].use,
            (std::vector<StackId>{"a", "b"}));
  // ... 30 % better is.
  auto p = a->decide({est("a", 100ms, {}), est("b", 70ms, {})}, policy({"a", "b"}));
  EXPECT_EQ(p.rules[0].use, (std::vector<StackId>{"b", "a"}));
  EXPECT_NE(p.reason.find("rule 0: b ahead of a"), std::string::npos);
}

TEST(Algorithms, UnhealthyStacksGoLastAndUnknownOnesAfterMeasured) {
  auto a = make_min_rtt_algorithm({{"hysteresis", 0.2}});
  auto p = a->decide({est("a", 10ms, {}, 0, false), est("b", {}, {}), est("c", 50ms, {})}, policy({"a", "b", "c"}));
  EXPECT_EQ(p.rules[0].use, (std::vector<StackId>{"c", "b", "a"}));
}

TEST(Algorithms, MaxGoodputPrefersTheFasterPath) {
  auto a = make_max_goodput_algorithm({{"hysteresis", 0.2}});
  EXPECT_EQ(a->decide({est("a", {}, 10), est("b", {}, 90)}, policy({"a", "b"})).rules[0].use,
            (std::vector<StackId>{"b", "a"}));
  EXPECT_EQ(a->decide({est("a", {}, 80), est("b", {}, 90)}, policy({"a", "b"})).rules[0].use,
            (std::vector<StackId>{"a", "b"}));
}

TEST(Algorithms, WeightedFollowsTheRulesIntent) {
  auto reg = AlgorithmRegistry::with_builtins();
  auto a = std::move(reg.create("weighted", {})).value();
  // `low` has low RTT but little goodput; `fat` has high goodput but high RTT.
  StackEstimates now{est("low", 10ms, 5), est("fat", 80ms, 100)};
  EXPECT_EQ(a->decide(now, policy({"fat", "low"}, Intent::latency)).rules[0].use,
            (std::vector<StackId>{"low", "fat"}));
  EXPECT_EQ(a->decide(now, policy({"low", "fat"}, Intent::bulk)).rules[0].use,
            (std::vector<StackId>{"fat", "low"}));
  // Heavy loss outweighs a slightly better RTT.
  StackEstimates lossy{est("a", 10ms, 50, 0.05), est("b", 12ms, 50, 0)};
  EXPECT_EQ(a->decide(lossy, policy({"a", "b"})).rules[0].use, (std::vector<StackId>{"b", "a"}));
}

}  // namespace
