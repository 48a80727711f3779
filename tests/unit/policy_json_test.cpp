#include "dmm/policy_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using namespace dmm;

namespace {

Policy sample_policy() {
  Policy p;
  p.version = 7;
  p.time = 1500ms;
  p.reason = "ranking changed";
  Rule r1;
  r1.match.dst = *IpPrefix::parse("10.78.0.0/16");
  r1.match.ports = PortRange{8000, 8100};
  r1.match.proto = L4Proto::tcp;
  r1.match.intent = Intent::latency;
  r1.use = {"blue", "red"};
  p.rules.push_back(r1);
  Rule r2;
  r2.match.dst = *IpPrefix::parse("fd00::/8");
  r2.use = {"red"};
  p.rules.push_back(r2);
  p.rules.push_back(Rule{Match{}, {"host"}});
  p.down = {"red"};
  return p;
}

TEST(PolicyJson, RoundTripsEveryField) {
  const Policy p = sample_policy();
  auto back = parse_policy_json(policy_to_json(p).dump());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->version, 7u);
  EXPECT_EQ(back->time, 1500ms);
  EXPECT_EQ(back->reason, "ranking changed");
  EXPECT_EQ(back->rules, p.rules);
  EXPECT_EQ(back->down, p.down);
}

TEST(PolicyJson, IsTheSameObjectAsAPolicyJsonlLine) {
  const Policy p = sample_policy();
  EXPECT_EQ(to_json_line(p), policy_to_json(p).dump());
}

TEST(PolicyJson, AcceptsWhatAPersonWrites) {
  auto p = parse_policy_json(R"({"version": 1, "rules": [{"match": {"port": 80}, "use": ["a"]}, {"use": ["b", "a"]}]})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->rules[0].match.ports, (PortRange{80, 80}));
  EXPECT_EQ(p->rules[1].match, Match{});
  EXPECT_TRUE(p->down.empty());
}

struct BadCase {
  const char* text;
  const char* expect;  // a substring of the error
};

class PolicyJsonRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(PolicyJsonRejects, NamingWhereAndWhat) {
  auto p = parse_policy_json(GetParam().text);
  ASSERT_FALSE(p) << GetParam().text;
  EXPECT_EQ(p.error().code, EINVAL);
  EXPECT_NE(p.error().message.find(GetParam().expect), std::string::npos) << p.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PolicyJsonRejects,
    ::testing::Values(
        BadCase{"", "not JSON (at byte 1)"}, BadCase{"{\"version\":1,", "not JSON"}, BadCase{"[]", "expected an object"},
        BadCase{R"({"rules":[]})", "missing key 'version'"},
        BadCase{R"({"version":0,"rules":[]})", "version: a policy version is at least 1"},
        BadCase{R"({"version":-3,"rules":[]})", "version: expected a whole number"},
        BadCase{R"({"version":1.5,"rules":[]})", "version: expected a whole number"},
        BadCase{R"({"version":1})", "missing key 'rules'"},
        BadCase{R"({"version":1,"rules":{}})", "rules: expected a list of rules"},
        BadCase{R"({"version":1,"rules":[],"extra":1})", "unknown key 'extra'"},
        BadCase{R"({"version":1,"rules":[{"match":{}}]})", "rules[0]: missing key 'use'"},
        BadCase{R"({"version":1,"rules":[{"use":[]}]})", "rules[0].use: a rule must name at least one stack"},
        BadCase{R"({"version":1,"rules":[{"use":[""]}]})", "rules[0].use[0]: empty name"},
        BadCase{R"({"version":1,"rules":[{"use":[1]}]})", "rules[0].use[0]: expected a string"},
        BadCase{R"({"version":1,"rules":[{"use":["a"],"match":{"dst":"10.0.0.0/33"}}]})", "rules[0].match.dst"},
        BadCase{R"({"version":1,"rules":[{"use":["a"],"match":{"port":"90-80"}}]})", "runs backwards"},
        BadCase{R"({"version":1,"rules":[{"use":["a"],"match":{"port":0}}]})", "rules[0].match.port: invalid port '0'"},
        BadCase{R"({"version":1,"rules":[{"use":["a"],"match":{"port":70000}}]})", "above the limit 65535"},
        BadCase{R"({"version":1,"rules":[{"use":["a"],"match":{"proto":"sctp"}}]})", "unknown protocol 'sctp'"},
        BadCase{R"({"version":1,"rules":[{"use":["a"],"match":{"intent":"fast"}}]})", "unknown intent 'fast'"},
        BadCase{R"({"version":1,"rules":[{"use":["a"],"match":{"color":"red"}}]})", "unknown key 'color'"},
        BadCase{R"({"version":1,"time_s":-1,"rules":[]})", "time_s: expected a number from 0"},
        BadCase{R"({"version":1,"time_s":1e300,"rules":[]})", "time_s"},
        BadCase{R"({"version":1,"rules":[],"down":"a"})", "down: expected a list"},
        BadCase{"{\"version\":1,\"rules\":[],\"reason\":\"\xff\"}", "not JSON"}));

TEST(PolicyJson, LimitsAreEnforced) {
  nlohmann::json many = {{"version", 1}, {"rules", nlohmann::json::array()}};
  for (int i = 0; i < 11; ++i) many["rules"].push_back({{"use", {"a"}}});
  auto p = policy_from_json(many, {.max_rules = 10});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("more than 10 rules"), std::string::npos) << p.error().message;

  nlohmann::json ranked = {{"version", 1}, {"rules", {{{"use", nlohmann::json::array()}}}}};
  for (int i = 0; i <= static_cast<int>(kMaxRankedStacks); ++i) ranked["rules"][0]["use"].push_back("s" + std::to_string(i));
  ASSERT_FALSE(policy_from_json(ranked));
}

TEST(PortRange, ParsesAndPrints) {
  EXPECT_EQ(*PortRange::parse("80"), (PortRange{80, 80}));
  EXPECT_EQ(*PortRange::parse("8000 - 8100"), (PortRange{8000, 8100}));
  EXPECT_EQ(PortRange::parse("8000-8100")->to_string(), "8000-8100");
  EXPECT_EQ(PortRange::parse("443")->to_string(), "443");
  EXPECT_FALSE(PortRange::parse(""));
  EXPECT_FALSE(PortRange::parse("x"));
  EXPECT_FALSE(PortRange::parse("1-"));
  EXPECT_FALSE(PortRange::parse("65536"));
}

TEST(Endpoint, ParsesWhatItPrints) {
  auto v4 = Endpoint::parse("10.0.0.1:7601");
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_EQ(v4->to_string(), "10.0.0.1:7601");
  auto v6 = Endpoint::parse("[fd00::1]:80");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->to_string(), "[fd00::1]:80");
  EXPECT_EQ(Endpoint::parse("0.0.0.0:0")->port, 0);
  for (const char* bad : {"", "10.0.0.1", "10.0.0.1:", "10.0.0.1:x", "10.0.0.1:65536", "fd00::1:80", "[10.0.0.1]:80",
                          "host:80", ":80", "[fd00::1]80"}) {
    auto e = Endpoint::parse(bad);
    EXPECT_FALSE(e) << bad;
    if (!e) {
      EXPECT_NE(e.error().message.find("is not ADDRESS:PORT"), std::string::npos) << e.error().message;
    }
  }
}

}  // namespace
