// The effective scenario a results directory keeps (scenario.yaml): the file's YAML with the run's --set and
// --seed applied, which loads again into the same scenario.
#include <gtest/gtest.h>

#include "scenario/scenario.hpp"

namespace dmm::scenario {
namespace {

constexpr const char* kScenario = R"(# a comment that the copy does not keep
name: copy-me
description: "quoted: text, with # and commas"
seed: 4
duration: 10s
topology:
  nodes: [a, b]
  links:
    - {name: l, between: [a, b], rate: 10Mbps, delay: 5ms}
stacks: [{name: s, node: a, kind: kernel, link: l}]
nrd: {algorithm: min-rtt, params: {hysteresis: 0.1}}
policy: [{match: {port: 80-90}, use: [s]}]
workloads:
  - {name: w, kind: request-response, from: a, to: b, port: 80, rate: 5/s, request: "200B"}
expect:
  - {between: [1s, 5s], workload: w, completed_at_least: 0.5}
)";

TEST(EffectiveScenario, KeepsOverridesAndSeedAndLoadsAgainToTheSameScenario) {
  LoadOptions options;
  options.overrides = {"nrd.period=250ms", "topology.links.l.delay=7ms", "workloads.w.response=4KiB"};
  options.seed = 11;
  auto first = load_text(kScenario, "copy-me.yaml", options);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->overrides, options.overrides);
  EXPECT_EQ(first->seed_option, 11u);
  const std::string& text = first->effective_yaml;
  EXPECT_EQ(text.find("a comment"), std::string::npos) << text;
  EXPECT_NE(text.find("seed: 11"), std::string::npos) << text;
  EXPECT_NE(text.find("period: 250ms"), std::string::npos) << text;
  EXPECT_NE(text.find("delay: 7ms"), std::string::npos) << text;

  // Loaded without any option, the copy is the scenario that ran.
  auto again = load_text(text, "scenario.yaml");
  ASSERT_TRUE(again) << again.error().message << "\n" << text;
  EXPECT_EQ(again->seed, 11u);
  EXPECT_EQ(again->nrd.period, std::chrono::milliseconds(250));
  EXPECT_EQ(again->links[0].delay, std::chrono::milliseconds(7));
  EXPECT_EQ(again->workloads[0].response, 4096u);
  EXPECT_EQ(again->workloads[0].request, 200u);
  EXPECT_EQ(again->description, "quoted: text, with # and commas");
  EXPECT_EQ(again->expect[0].as_text, first->expect[0].as_text);
  ASSERT_TRUE(again->policy[0].rule.match.ports);
  EXPECT_EQ(again->policy[0].rule.match.ports->first, 80);
  EXPECT_EQ(again->policy[0].rule.match.ports->last, 90);
  // And the copy of the copy is the copy: nothing is lost or changed on the way.
  EXPECT_EQ(again->effective_yaml, text);
}

TEST(EffectiveScenario, WithoutOptionsIsTheFileItself) {
  auto plain = load_text(kScenario, "copy-me.yaml");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_TRUE(plain->overrides.empty());
  EXPECT_FALSE(plain->seed_option);
  EXPECT_NE(plain->effective_yaml.find("seed: 4"), std::string::npos);
  EXPECT_NE(plain->effective_yaml.find("nodes: [a, b]"), std::string::npos) << plain->effective_yaml;
}

TEST(EffectiveScenario, QuotedScalarsStayText) {
  // `"10"` is text, `10` a number: a name that looks like a number must not become one in the copy.
  auto s = load_text(R"(name: "123"
duration: 10s
topology: {nodes: ["1", b], links: [{name: l, between: ["1", b]}]}
stacks: [{name: s, node: "1", kind: kernel, link: l}]
policy: [{match: {}, use: [s]}]
workloads: [{name: "true", kind: bulk, from: "1", to: b, port: 5001, size: 1MB}]
)",
                     "quoted.yaml");
  ASSERT_TRUE(s) << s.error().message;
  auto again = load_text(s->effective_yaml, "scenario.yaml");
  ASSERT_TRUE(again) << again.error().message << "\n" << s->effective_yaml;
  EXPECT_EQ(again->name, "123");
  EXPECT_EQ(again->nodes[0], "1");
  EXPECT_EQ(again->workloads[0].name, "true");
}

}  // namespace
}  // namespace dmm::scenario
