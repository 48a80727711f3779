#include "dmm/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace dmm {
namespace {

IpPrefix prefix(std::string_view s) { return IpPrefix::parse(s).value(); }

SessionRequest request(std::string_view dst, std::uint16_t port, L4Proto proto = L4Proto::tcp,
                       Intent intent = Intent::default_) {
  return SessionRequest{Endpoint{IpAddress::parse(dst).value(), port}, proto, intent};
}

const std::vector<StackId> kKnown{"a", "b", "c"};

Policy policy_of(std::vector<Rule> rules) {
  Policy p;
  p.rules = std::move(rules);
  return p;
}

TEST(Match, EmptyMatchesEverything) {
  const Match m;
  EXPECT_TRUE(m.matches(request("1.2.3.4", 80)));
  EXPECT_TRUE(m.matches(request("::1", 0, L4Proto::udp, Intent::bulk)));
}

TEST(Match, EveryFieldMustFit) {
  Match m;
  m.dst = prefix("10.0.0.0/8");
  m.ports = PortRange{8000, 8100};
  m.proto = L4Proto::tcp;
  m.intent = Intent::latency;
  EXPECT_TRUE(m.matches(request("10.1.1.1", 8000, L4Proto::tcp, Intent::latency)));
  EXPECT_TRUE(m.matches(request("10.1.1.1", 8100, L4Proto::tcp, Intent::latency)));
  EXPECT_FALSE(m.matches(request("11.1.1.1", 8000, L4Proto::tcp, Intent::latency)));
  EXPECT_FALSE(m.matches(request("10.1.1.1", 7999, L4Proto::tcp, Intent::latency)));
  EXPECT_FALSE(m.matches(request("10.1.1.1", 8101, L4Proto::tcp, Intent::latency)));
  EXPECT_FALSE(m.matches(request("10.1.1.1", 8000, L4Proto::udp, Intent::latency)));
  EXPECT_FALSE(m.matches(request("10.1.1.1", 8000, L4Proto::tcp, Intent::bulk)));
  EXPECT_FALSE(m.matches(request("::ffff:10.1.1.1", 8000, L4Proto::tcp, Intent::latency)));
}

TEST(SameDecisions, IgnoresVersionTimeReasonAndDownOrder) {
  Policy a = policy_of({Rule{Match{}, {"a", "b"}}});
  a.down = {"a", "b"};
  Policy b = a;
  b.version = 7;
  b.time = 3s;
  b.reason = "other";
  b.down = {"b", "a"};
  EXPECT_TRUE(same_decisions(a, b));
  b.down = {"b"};
  EXPECT_FALSE(same_decisions(a, b));
  b = a;
  b.rules[0].use = {"b", "a"};  // rank order is a decision
  EXPECT_FALSE(same_decisions(a, b));
  b = a;
  b.rules[0].match.intent = Intent::bulk;
  EXPECT_FALSE(same_decisions(a, b));
}

TEST(Validate, AcceptsAWellFormedPolicy) {
  Policy p = policy_of({Rule{Match{prefix("10.0.0.0/8"), PortRange{80, 80}, L4Proto::tcp, Intent::latency}, {"a", "b"}},
                        Rule{Match{}, {"c"}}});
  p.down = {"b"};
  EXPECT_TRUE(validate(p, kKnown));
  EXPECT_TRUE(validate(policy_of({}), kKnown));  // no rules: valid, nothing matches
}

TEST(Validate, NamesTheRuleAndTheProblem) {
  auto message = [](const Policy& p) {
    auto s = validate(p, kKnown);
    EXPECT_FALSE(s);
    EXPECT_EQ(s.error().code, EINVAL);
    return s.error().message;
  };
  const Rule ok{Match{}, {"a"}};
  EXPECT_EQ(message(policy_of({ok, ok, Rule{Match{}, {"a", "foo"}}})), "rule 2: unknown stack 'foo'");
  EXPECT_EQ(message(policy_of({Rule{Match{}, {}}})), "rule 0: 'use' names no stack");
  EXPECT_EQ(message(policy_of({ok, Rule{Match{}, {"a", "b", "a"}}})), "rule 1: stack 'a' is listed twice");
  EXPECT_THAT(message(policy_of({Rule{Match{}, std::vector<StackId>(17, "a")}})), HasSubstr("at most 16"));
  Rule reversed{Match{}, {"a"}};
  reversed.match.ports = PortRange{90, 80};
  EXPECT_EQ(message(policy_of({reversed})), "rule 0: port range 90-80 is reversed");
  Rule long_prefix{Match{}, {"a"}};
  long_prefix.match.dst = IpPrefix{IpAddress::v4(0x0A000000), 33};
  EXPECT_THAT(message(policy_of({long_prefix})), HasSubstr("rule 0: prefix length 33 out of range 0..32"));
  Rule unmasked{Match{}, {"a"}};
  unmasked.match.dst = IpPrefix{IpAddress::v4(0x0A000001), 8};  // would silently never match
  EXPECT_THAT(message(policy_of({unmasked})), HasSubstr("host bits"));
  Rule bad_intent{Match{}, {"a"}};
  bad_intent.match.intent = static_cast<Intent>(9);
  EXPECT_THAT(message(policy_of({bad_intent})), HasSubstr("intent"));
  Policy zero = policy_of({ok});
  zero.version = 0;
  EXPECT_THAT(message(zero), HasSubstr("version"));
  Policy bad_down = policy_of({ok});
  bad_down.down = {"zzz"};
  EXPECT_EQ(message(bad_down), "down: unknown stack 'zzz'");
}

TEST(Validate, SixteenStacksIsTheLimit) {
  std::vector<StackId> known;
  for (int i = 0; i < 16; ++i) known.push_back(std::string("s").append(std::to_string(i)));
  EXPECT_TRUE(validate(policy_of({Rule{Match{}, known}}), known));
}

TEST(ToJsonLine, ExactShape) {
  Policy p;
  p.version = 3;
  p.time = 1500ms;
  p.reason = "min-rtt: a faster";
  Rule r1{Match{prefix("10.0.0.0/8"), PortRange{80, 80}, L4Proto::tcp, Intent::latency}, {"a", "b"}};
  Rule r2{Match{}, {"b"}};
  r2.match.ports = PortRange{8000, 8100};
  r2.race = RaceMode::failover;
  r2.attempt_delay = 300ms;
  Rule r3{Match{}, {"c"}};
  r3.match.dst = prefix("2001:db8::/32");
  p.rules = {r1, r2, r3};
  p.down = {"a"};
  EXPECT_EQ(to_json_line(p),
            R"({"version":3,"time_s":1.5,"reason":"min-rtt: a faster","rules":[)"
            R"({"match":{"dst":"10.0.0.0/8","port":"80","proto":"tcp","intent":"latency"},"use":["a","b"]},)"
            R"({"match":{"port":"8000-8100"},"use":["b"],"race":"failover","attempt_delay":"300ms"},)"
            R"({"match":{"dst":"2001:db8::/32"},"use":["c"]}],"down":["a"]})");
}

TEST(ToJsonLine, EmptyPolicyAndOddText) {
  Policy p;
  p.reason = "quote \" and \xff";  // invalid UTF-8 must not throw while writing results
  EXPECT_EQ(to_json_line(p), "{\"version\":1,\"time_s\":0.0,\"reason\":\"quote \\\" and \xEF\xBF\xBD\",\"rules\":[],\"down\":[]}");
}

TEST(Describe, ListsPresentFields) {
  EXPECT_EQ(describe(Match{}), "*");
  EXPECT_EQ(describe(Match{prefix("10.0.0.0/8"), PortRange{80, 80}, L4Proto::tcp, Intent::latency}),
            "dst=10.0.0.0/8 port=80 proto=tcp intent=latency");
  Match m;
  m.ports = PortRange{8000, 8100};
  m.intent = Intent::bulk;
  EXPECT_EQ(describe(m), "port=8000-8100 intent=bulk");
}

}  // namespace
}  // namespace dmm
