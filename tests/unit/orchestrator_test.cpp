#include "dmm/orchestrator.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <thread>

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Counts heap allocations made by the calling thread, to prove select() makes none. Replacing the global
// operator new is the only portable hook; it forwards to malloc, so the rest of the binary is unaffected.
// GCC pairs the inlined new/delete calls of this file and cannot see that both sides use malloc/free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local std::uint64_t t_allocations = 0;
}
void* operator new(std::size_t n) {
  ++t_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++t_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace dmm {
namespace {

IpPrefix prefix(std::string_view s) { return IpPrefix::parse(s).value(); }

SessionRequest request(std::string_view dst, std::uint16_t port, L4Proto proto = L4Proto::tcp,
                       Intent intent = Intent::default_) {
  return SessionRequest{Endpoint{IpAddress::parse(dst).value(), port}, proto, intent};
}

Policy policy_of(PolicyVersion version, std::vector<Rule> rules, std::vector<StackId> down = {}) {
  Policy p;
  p.version = version;
  p.rules = std::move(rules);
  p.down = std::move(down);
  return p;
}

Rule rule(std::vector<StackId> use, std::optional<std::string_view> dst = std::nullopt,
          std::optional<PortRange> ports = std::nullopt, std::optional<L4Proto> proto = std::nullopt,
          std::optional<Intent> intent = std::nullopt) {
  Rule r;
  if (dst) r.match.dst = prefix(*dst);
  r.match.ports = ports;
  r.match.proto = proto;
  r.match.intent = intent;
  r.use = std::move(use);
  return r;
}

std::vector<StackIndex> ranked(const Choice& c) { return {c.ranked.begin(), c.ranked.begin() + c.ranked_count}; }

const std::vector<StackId> kStacks{"a", "b", "c", "d"};

TEST(Orchestrator, FirstMatchingRuleDecides) {
  Orchestrator o(kStacks, policy_of(1, {rule({"b"}, "10.1.0.0/16", PortRange{80, 80}),
                                        rule({"c"}, "10.0.0.0/8"),
                                        rule({"d"}, std::nullopt, std::nullopt, std::nullopt, Intent::bulk),
                                        rule({"a"})}));
  auto c = o.select(request("10.1.2.3", 80));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->rule, 0);
  EXPECT_EQ(c->stack, 1);
  EXPECT_EQ(c->version, 1u);
  EXPECT_FALSE(c->all_unhealthy);
  EXPECT_THAT(ranked(*c), ElementsAre(1));
  EXPECT_EQ(o.select(request("10.1.2.3", 81))->rule, 1);
  EXPECT_EQ(o.select(request("10.1.2.3", 81, L4Proto::tcp, Intent::bulk))->rule, 1);
  EXPECT_EQ(o.select(request("11.1.2.3", 81, L4Proto::tcp, Intent::bulk))->rule, 2);
  EXPECT_EQ(o.select(request("::1", 81, L4Proto::udp))->rule, 3);
  EXPECT_EQ(o.select(request("::1", 81))->stack, 0);
}

TEST(Orchestrator, NoMatchIsNetworkUnreachable) {
  Orchestrator o(kStacks, policy_of(1, {rule({"a"}, "10.0.0.0/8")}));
  auto c = o.select(request("192.168.0.1", 80));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ENETUNREACH);
  Orchestrator empty(kStacks, policy_of(1, {}));
  EXPECT_EQ(empty.select(request("10.0.0.1", 80)).error().code, ENETUNREACH);
}

TEST(Orchestrator, SelectDoesNotAllocate) {
  Orchestrator o(kStacks, policy_of(1, {rule({"b", "c", "a"}, "10.0.0.0/8", PortRange{1, 1000}), rule({"a"}, "::/0")}, {"b"}));
  const SessionRequest hit = request("10.1.2.3", 80);
  const SessionRequest miss = request("192.168.0.1", 80);
  {
    const std::uint64_t start = t_allocations;
    std::vector<int> probe(1000, 1);  // the counter must see an ordinary allocation, or the check below is void
    EXPECT_EQ(probe[999], 1);
    EXPECT_GT(t_allocations, start);
  }
  const std::uint64_t before = t_allocations;
  for (int i = 0; i < 100; ++i) {
    auto c = o.select(hit);
    auto m = o.select(miss);
    ASSERT_TRUE(c);
    ASSERT_FALSE(m);
  }
  EXPECT_EQ(t_allocations, before);
}

TEST(Orchestrator, RejectsStaleAndInvalidPoliciesAndKeepsServingTheOldOne) {
  Orchestrator o(kStacks, policy_of(5, {rule({"a"})}));
  auto stale = o.apply(policy_of(5, {rule({"b"})}));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ESTALE);
  EXPECT_EQ(o.apply(policy_of(3, {rule({"b"})})).error().code, ESTALE);
  auto invalid = o.apply(policy_of(6, {rule({"b"}), rule({"nope"})}));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, EINVAL);
  EXPECT_THAT(invalid.error().message, HasSubstr("rule 1: unknown stack 'nope'"));
  EXPECT_EQ(o.version(), 5u);
  EXPECT_EQ(o.select(request("1.1.1.1", 1))->stack, 0);
  EXPECT_EQ(o.policy()->rules[0].use[0], "a");

  ASSERT_TRUE(o.apply(policy_of(9, {rule({"c"})})));  // versions may skip
  EXPECT_EQ(o.version(), 9u);
  EXPECT_EQ(o.select(request("1.1.1.1", 1))->stack, 2);
  EXPECT_EQ(o.select(request("1.1.1.1", 1))->version, 9u);
  EXPECT_EQ(o.policy()->version, 9u);

  const auto n = o.counters();
  EXPECT_EQ(n.applied, 1u);
  EXPECT_EQ(n.rejected_stale, 2u);
  EXPECT_EQ(n.rejected_invalid, 1u);
}

TEST(Orchestrator, InvalidInitialPolicyOrStackTableThrows) {
  EXPECT_THROW(Orchestrator(kStacks, policy_of(1, {rule({"x"})})), std::invalid_argument);
  EXPECT_THROW(Orchestrator(kStacks, policy_of(0, {rule({"a"})})), std::invalid_argument);
  EXPECT_THROW(Orchestrator({"a", "a"}, policy_of(1, {rule({"a"})})), std::invalid_argument);
}

TEST(Orchestrator, StackTable) {
  Orchestrator o(kStacks, policy_of(1, {rule({"a"})}));
  EXPECT_EQ(o.stacks(), kStacks);
  EXPECT_EQ(o.index_of("c"), StackIndex{2});
  EXPECT_EQ(o.index_of("zz"), std::nullopt);
  EXPECT_EQ(o.stack_name(3), "d");
}

TEST(Orchestrator, HealthyStacksComeFirstInRankOrder) {
  Orchestrator o(kStacks, policy_of(1, {rule({"a", "b", "c"})}, {"b"}));
  auto c = o.select(request("1.2.3.4", 80)).value();
  EXPECT_EQ(c.stack, 0);
  EXPECT_THAT(ranked(c), ElementsAre(0, 2, 1));  // b is down in the policy: last

  o.set_local_health(0, false);
  c = o.select(request("1.2.3.4", 80)).value();
  EXPECT_EQ(c.stack, 2);
  EXPECT_FALSE(c.all_unhealthy);
  EXPECT_THAT(ranked(c), ElementsAre(2, 0, 1));

  o.set_local_health(2, false);
  c = o.select(request("1.2.3.4", 80)).value();
  EXPECT_TRUE(c.all_unhealthy);
  EXPECT_EQ(c.stack, 0);  // none healthy: the first in rank, as a last resort
  EXPECT_THAT(ranked(c), ElementsAre(0, 1, 2));

  o.set_local_health(0, true);
  o.set_local_health(2, true);
  ASSERT_TRUE(o.apply(policy_of(2, {rule({"a", "b", "c"})}, {"a"})));  // the new down-set replaces the old
  c = o.select(request("1.2.3.4", 80)).value();
  EXPECT_EQ(c.stack, 1);
  EXPECT_THAT(ranked(c), ElementsAre(1, 2, 0));
  o.set_local_health(99, false);  // not a stack: ignored
}

TEST(Orchestrator, HealthyCountSaysWhereThePassedOverStacksBegin) {
  Orchestrator o(kStacks, policy_of(1, {rule({"a", "b", "c"})}, {"b"}));
  auto c = o.select(request("1.2.3.4", 80)).value();
  EXPECT_EQ(c.healthy_count, 2);  // a, c healthy; b after them
  o.set_local_health(0, false);
  EXPECT_FALSE(o.locally_healthy(0));
  EXPECT_TRUE(o.locally_healthy(1));  // down in the policy, not locally
  EXPECT_EQ(o.select(request("1.2.3.4", 80)).value().healthy_count, 1);
  ASSERT_TRUE(o.apply(policy_of(2, {rule({"a", "b", "c"})})));
  o.set_local_health(0, true);
  EXPECT_EQ(o.select(request("1.2.3.4", 80)).value().healthy_count, 3);
}

TEST(Orchestrator, LocalHealthObserverSeesEachChangeOnceWithItsReason) {
  Orchestrator o(kStacks, policy_of(1, {rule({"a", "b"})}, {"a"}));
  std::vector<std::string> seen;
  o.set_local_health_observer([&](StackIndex i, bool healthy, std::string_view why) {
    seen.push_back(std::to_string(i) + (healthy ? " up: " : " down: ") + std::string(why));
  });
  o.set_local_health(0, false, "set-up failures");
  o.set_local_health(0, false, "again");  // no change, no call
  // nRD lists `a` up again: that clears the local mark too, and says why.
  ASSERT_TRUE(o.apply(policy_of(2, {rule({"a", "b"})})));
  EXPECT_THAT(seen, ElementsAre("0 down: set-up failures", "0 up: policy v2 lists it up"));
}

TEST(Orchestrator, RepeatedHealthReportsAreIdempotent) {
  Orchestrator o(kStacks, policy_of(1, {rule({"a", "b"})}));
  o.set_local_health(0, false);
  o.set_local_health(0, false);  // a second report of the same failure
  EXPECT_THAT(ranked(o.select(request("1.2.3.4", 80)).value()), ElementsAre(1, 0));
  o.set_local_health(0, true);  // one recovery undoes both
  auto c = o.select(request("1.2.3.4", 80)).value();
  EXPECT_THAT(ranked(c), ElementsAre(0, 1));
  EXPECT_FALSE(c.all_unhealthy);
  o.set_local_health(1, true);  // already healthy: no change
  o.set_local_health(1, false);
  EXPECT_THAT(ranked(o.select(request("1.2.3.4", 80)).value()), ElementsAre(0, 1));
  o.set_local_health(0, false);
  c = o.select(request("1.2.3.4", 80)).value();
  EXPECT_TRUE(c.all_unhealthy);
  EXPECT_THAT(ranked(c), ElementsAre(0, 1));
}

TEST(Orchestrator, RulesRankingManyStacks) {
  std::vector<StackId> stacks;
  for (int i = 0; i < 16; ++i) stacks.push_back(std::string("s").append(std::to_string(i)));
  std::vector<StackId> reversed(stacks.rbegin(), stacks.rend());
  Orchestrator o(stacks, policy_of(1, {rule(reversed, "10.0.0.0/8"), rule({"s3", "s1"})}, {"s14"}));
  auto c = o.select(request("10.1.1.1", 80)).value();
  ASSERT_EQ(c.ranked_count, 16);
  EXPECT_EQ(c.stack, 15);
  EXPECT_EQ(c.ranked[0], 15);
  EXPECT_EQ(c.ranked[1], 13);  // s14 is down: last
  EXPECT_EQ(c.ranked[15], 14);
  c = o.select(request("11.1.1.1", 80)).value();
  EXPECT_THAT(ranked(c), ElementsAre(3, 1));
  EXPECT_EQ(c.ranked[2], 0);  // unused entries stay zero
  EXPECT_EQ(c.ranked[15], 0);
}

// ---------------------------------------------------------------------------------------------------------
// Differential test: the compiled table against the obvious linear first-match scan.

class RandomPolicies {
public:
  explicit RandomPolicies(std::uint32_t seed) : rng_(seed) {}

  Policy policy(PolicyVersion version, std::size_t rules, const std::vector<StackId>& stacks) {
    Policy p;
    p.version = version;
    for (std::size_t i = 0; i < rules; ++i) p.rules.push_back(random_rule(stacks));
    return p;
  }

  SessionRequest request_for(const Policy& p) {
    SessionRequest r;
    // Mostly aim inside some rule's prefix (so that many rules overlap), sometimes anywhere.
    if (!p.rules.empty() && pick(10) < 7) {
      const Rule& target = p.rules[pick(p.rules.size())];
      r.dst.address = target.match.dst ? inside(*target.match.dst) : base_address(pick(3) == 0);
      r.dst.port = target.match.ports && pick(2) == 0 ? target.match.ports->first : port();
    } else {
      r.dst.address = base_address(pick(3) == 0);
      r.dst.port = port();
    }
    r.proto = pick(2) == 0 ? L4Proto::tcp : L4Proto::udp;
    r.intent = static_cast<Intent>(pick(4));
    return r;
  }

private:
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

  // A small address space so that prefixes of different lengths nest and collide.
  IpAddress base_address(bool v6) {
    IpAddress a;
    if (v6) {
      a = IpAddress::parse("2001:db8::").value();
      a.bytes[4] = static_cast<std::uint8_t>(pick(4));
      a.bytes[7] = static_cast<std::uint8_t>(pick(4));
      a.bytes[15] = static_cast<std::uint8_t>(pick(256));
    } else {
      a = IpAddress::v4(0x0A000000u | static_cast<std::uint32_t>(pick(4) << 16 | pick(8) << 8 | pick(256)));
    }
    return a;
  }

  IpAddress inside(const IpPrefix& p) {
    IpAddress a = p.address;
    for (int bit = p.length; bit < a.bit_width(); ++bit)
      if (pick(2) != 0) a.bytes[bit / 8] = static_cast<std::uint8_t>(a.bytes[bit / 8] | (0x80 >> (bit % 8)));
    return a;
  }

  std::uint16_t port() {
    static constexpr std::uint16_t kPorts[] = {0, 53, 80, 443, 5001, 8000, 8080, 8100, 65535};
    return pick(4) == 0 ? static_cast<std::uint16_t>(pick(65536)) : kPorts[pick(std::size(kPorts))];
  }

  Rule random_rule(const std::vector<StackId>& stacks) {
    Rule r;
    const std::size_t kind = pick(10);
    if (kind < 5) {
      static constexpr std::uint8_t kLengths[] = {0, 8, 12, 16, 20, 23, 24, 28, 32};
      const auto len = pick(4) == 0 ? static_cast<std::uint8_t>(pick(33)) : kLengths[pick(std::size(kLengths))];
      r.match.dst = IpPrefix::of(base_address(false), len);
    } else if (kind < 7) {
      static constexpr std::uint8_t kLengths[] = {0, 32, 36, 48, 64, 120, 128};
      const auto len = pick(4) == 0 ? static_cast<std::uint8_t>(pick(129)) : kLengths[pick(std::size(kLengths))];
      r.match.dst = IpPrefix::of(base_address(true), len);
    }
    const std::size_t ports = pick(10);
    if (ports < 3) {
      const std::uint16_t p = port();
      r.match.ports = PortRange{p, p};
    } else if (ports < 6) {
      const std::uint16_t a = port();
      const std::uint16_t b = port();
      r.match.ports = PortRange{std::min(a, b), std::max(a, b)};
    }
    if (pick(10) < 3) r.match.proto = pick(2) == 0 ? L4Proto::tcp : L4Proto::udp;
    if (pick(10) < 3) r.match.intent = static_cast<Intent>(pick(4));
    std::vector<StackId> pool = stacks;
    std::shuffle(pool.begin(), pool.end(), rng_);
    pool.resize(1 + pick(std::min<std::size_t>(4, pool.size())));
    r.use = pool;
    return r;
  }

  std::mt19937 rng_;
};

std::int32_t linear_first_match(const Policy& p, const SessionRequest& r) {
  for (std::size_t i = 0; i < p.rules.size(); ++i)
    if (p.rules[i].match.matches(r)) return static_cast<std::int32_t>(i);
  return -1;
}

TEST(Orchestrator, AgreesWithALinearFirstMatchScan) {
  const std::vector<StackId> stacks{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"};
  RandomPolicies gen(20240611);
  Orchestrator o(stacks, policy_of(1, {rule({"s0"})}));
  std::size_t checked = 0;
  std::size_t matched = 0;
  for (PolicyVersion v = 2; v < 42; ++v) {
    const std::size_t size = v % 5 == 0 ? 2000 : 1 + (v * 37) % 400;
    const Policy p = gen.policy(v, size, stacks);
    ASSERT_TRUE(o.apply(p));
    for (int i = 0; i < 5000; ++i) {
      const SessionRequest r = gen.request_for(p);
      const std::int32_t expected = linear_first_match(p, r);
      const auto c = o.select(r);
      ++checked;
      if (expected < 0) {
        ASSERT_FALSE(c) << "version " << v << " request " << r.dst.to_string();
        continue;
      }
      ++matched;
      ASSERT_TRUE(c) << "version " << v << " request " << r.dst.to_string() << " expected rule " << expected;
      ASSERT_EQ(c->rule, expected) << "version " << v << " request " << r.dst.to_string() << " "
                                   << to_string(r.proto) << " " << to_string(r.intent) << ": expected "
                                   << describe(p.rules[expected].match) << ", got "
                                   << describe(p.rules[c->rule].match);
      ASSERT_EQ(c->version, v);
      ASSERT_EQ(o.stack_name(c->stack), p.rules[expected].use.front());
    }
  }
  // The generator must actually exercise both outcomes, or the test proves little.
  EXPECT_GT(matched, checked / 2);
  EXPECT_LT(matched, checked);
}

TEST(Orchestrator, NestedPrefixesOfEveryLength) {
  // Prefixes of one address at every IPv4 length and a few IPv6 ones, in a shuffled order, some limited to
  // a port or an intent; probed with addresses that leave each prefix at one bit.
  const std::vector<StackId> stacks{"s0", "s1"};
  const IpAddress base = IpAddress::parse("10.129.66.195").value();
  const IpAddress base6 = IpAddress::parse("2001:db8:8000::1").value();
  std::mt19937 rng(7);
  Policy p = policy_of(1, {});
  for (std::uint8_t len = 0; len <= 32; ++len) {
    Rule r = rule({"s0"});
    r.match.dst = IpPrefix::of(base, len);
    if (len % 3 == 1) r.match.ports = PortRange{80, 80};
    if (len % 3 == 2) r.match.ports = PortRange{0, 1000};
    if (len % 5 == 0) r.match.intent = Intent::latency;
    p.rules.push_back(r);
  }
  for (std::uint8_t len : {0, 1, 17, 33, 64, 65, 127, 128}) {
    Rule r = rule({"s1"});
    r.match.dst = IpPrefix::of(base6, len);
    if (len % 2 == 1) r.match.ports = PortRange{80, 80};
    p.rules.push_back(r);
  }
  std::shuffle(p.rules.begin(), p.rules.end(), rng);
  p.rules.push_back(rule({"s1"}, std::nullopt, std::nullopt, L4Proto::udp));
  Orchestrator o(stacks, p);

  for (const IpAddress& a : {base, base6}) {
    for (int bit = -1; bit < a.bit_width(); ++bit) {
      IpAddress probe = a;
      if (bit >= 0) probe.bytes[bit / 8] = static_cast<std::uint8_t>(probe.bytes[bit / 8] ^ (0x80 >> (bit % 8)));
      for (std::uint16_t port : {0, 80, 81, 1000, 1001, 65535}) {
        for (Intent intent : {Intent::default_, Intent::latency}) {
          for (L4Proto proto : {L4Proto::tcp, L4Proto::udp}) {
            const SessionRequest r{Endpoint{probe, port}, proto, intent};
            std::int32_t expected = -1;
            for (std::size_t i = 0; i < p.rules.size() && expected < 0; ++i)
              if (p.rules[i].match.matches(r)) expected = static_cast<std::int32_t>(i);
            const auto c = o.select(r);
            ASSERT_EQ(c ? c->rule : -1, expected) << r.dst.to_string() << " " << to_string(intent);
          }
        }
      }
    }
  }
}

TEST(Orchestrator, ManyExactPortRulesOnOnePrefix) {
  // One rule per service port on a prefix (indexed by port), next to a prefix with only a few of them
  // (scanned), interleaved with range and catch-all rules.
  const std::vector<StackId> stacks{"s0", "s1", "s2"};
  Policy p = policy_of(1, {});
  for (std::uint16_t port = 100; port < 140; ++port) {
    p.rules.push_back(rule({"s0"}, "10.0.0.0/8", PortRange{port, port}, port % 3 == 0 ? std::optional{L4Proto::udp} : std::nullopt));
    if (port % 10 == 0) p.rules.push_back(rule({"s1"}, "10.1.0.0/16", PortRange{port, port}));
    if (port % 13 == 0) p.rules.push_back(rule({"s2"}, "10.0.0.0/8", PortRange{port, static_cast<std::uint16_t>(port + 5)}));
  }
  p.rules.push_back(rule({"s1"}, "10.1.0.0/16", PortRange{0, 65535}));
  p.rules.push_back(rule({"s2"}));
  Orchestrator o(stacks, p);
  for (const char* dst : {"10.0.0.1", "10.1.2.3", "11.0.0.1"}) {
    for (std::uint16_t port = 90; port < 150; ++port) {
      for (L4Proto proto : {L4Proto::tcp, L4Proto::udp}) {
        const SessionRequest r = request(dst, port, proto);
        std::int32_t expected = -1;
        for (std::size_t i = 0; i < p.rules.size() && expected < 0; ++i)
          if (p.rules[i].match.matches(r)) expected = static_cast<std::int32_t>(i);
        ASSERT_EQ(o.select(r)->rule, expected) << dst << ":" << port << " " << to_string(proto);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Readers against a writer: every Choice must come from one whole, applied version.

TEST(Orchestrator, ConcurrentSelectSeesOnlyWholeVersions) {
  constexpr std::size_t kStackCount = 5;
  constexpr PolicyVersion kVersions = 2000;
  std::vector<StackId> stacks;
  for (std::size_t i = 0; i < kStackCount; ++i) stacks.push_back(std::string("s").append(std::to_string(i)));
  // Version v sends everything to stack v % N, behind a varying number of rules that never match the
  // readers' requests, so that tables of different shapes and sizes are built and freed.
  auto version = [&stacks](PolicyVersion v) {
    Policy p = policy_of(v, {});
    for (PolicyVersion i = 0; i < v % 64; ++i)
      p.rules.push_back(rule({stacks[i % kStackCount]}, std::string("192.168.").append(std::to_string(i)).append(".0/24")));
    p.rules.push_back(rule({stacks[v % kStackCount]}));
    return p;
  };

  Orchestrator o(stacks, version(1));
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> selects{0};
  auto reader = [&](std::uint32_t id) {
    PolicyVersion last = 0;
    std::uint64_t n = 0;
    SessionRequest r = request("10.0.0.1", 80);
    r.dst.address.bytes[3] = static_cast<std::uint8_t>(id);
    while (!done.load()) {
      auto c = o.select(r);
      ++n;
      // One stack per rule: health flips (below) may mark it all_unhealthy but never change the stack.
      if (!c || c->stack != c->version % kStackCount || c->version < last || c->version > kVersions ||
          c->rule != static_cast<std::int32_t>(c->version % 64) || c->ranked_count != 1 || c->ranked[0] != c->stack)
        failures.fetch_add(1);
      if (c) last = c->version;
    }
    selects.fetch_add(n);
  };
  std::vector<std::thread> readers;
  for (std::uint32_t i = 0; i < 3; ++i) readers.emplace_back(reader, i);
  std::thread health([&] {  // nSocket threads reporting set-up failures and recoveries meanwhile
    for (std::uint32_t i = 0; !done.load(); ++i) o.set_local_health(static_cast<StackIndex>(i % kStackCount), i % 3 != 0);
  });
  for (PolicyVersion v = 2; v <= kVersions; ++v) {
    ASSERT_TRUE(o.apply(version(v)));
    if (v % 100 == 0) {
      EXPECT_FALSE(o.apply(version(v - 1)));  // stale ones are refused mid-stream too
    }
  }
  done.store(true);
  for (auto& t : readers) t.join();
  health.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GT(selects.load(), 0u);
  EXPECT_EQ(o.version(), kVersions);
  EXPECT_EQ(o.counters().applied, kVersions - 1);
  EXPECT_EQ(o.counters().rejected_stale, kVersions / 100);
}

}  // namespace
}  // namespace dmm
