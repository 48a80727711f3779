#pragma once
// Realistic policy tables and request streams for the orchestrator benchmarks: distinct /24 and /16 IPv4
// prefixes (some nested in each other), IPv6 /48 and /64 prefixes, rules with one exact port or a port range,
// a few port-only and intent-only rules, and a final catch-all. Deterministic for a given seed.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "dmm/policy.hpp"

namespace dmm::bench {

inline const std::vector<StackId>& bench_stacks() {
  static const std::vector<StackId> stacks{"kernel-a", "kernel-b", "lwip0", "ns3-x"};
  return stacks;
}

class RuleSetBuilder {
public:
  explicit RuleSetBuilder(std::uint32_t seed) : rng_(seed) {}

  Policy build(std::size_t rule_count) {
    Policy p;
    p.reason = "benchmark";
    const std::size_t catch_all = 1;
    const std::size_t intent_only = std::clamp<std::size_t>(rule_count / 100, 1, 8);
    const std::size_t port_only = std::clamp<std::size_t>(rule_count / 100, 1, 32);
    const std::size_t specific = rule_count - catch_all - intent_only - port_only;

    // Distinct prefixes: shuffled indices into each address space, consumed in order.
    std::vector<std::uint32_t> slash24(65536);  // 10.x.y.0/24
    std::iota(slash24.begin(), slash24.end(), 0u);
    std::shuffle(slash24.begin(), slash24.end(), rng_);
    std::vector<std::uint32_t> slash16(117 * 256);  // 10.0.0.0/16 .. 126.255.0.0/16 (10/8 ones nest /24s)
    std::iota(slash16.begin(), slash16.end(), 10u * 256);
    std::shuffle(slash16.begin(), slash16.end(), rng_);
    std::size_t next24 = 0, next16 = 0, next6 = 0;

    for (std::size_t i = 0; i < specific; ++i) {
      Rule r;
      const std::size_t kind = pick(100);
      if (kind < 55) {  // /24, a fifth of them for one service port
        r.match.dst = IpPrefix::of(IpAddress::v4(0x0A000000u | slash24[next24++ % slash24.size()] << 8), 24);
        if (kind < 11) r.match.ports = PortRange{common_port(), 0};
      } else if (kind < 85) {  // /16, some for a port range
        r.match.dst = IpPrefix::of(IpAddress::v4(slash16[next16++ % slash16.size()] << 16), 16);
        if (kind < 62) r.match.ports = PortRange{8000, static_cast<std::uint16_t>(8000 + pick(1000))};
      } else {  // IPv6 /48 or /64
        IpAddress a = IpAddress::parse("2001:db8::").value();
        const std::size_t n = next6++;
        a.bytes[4] = static_cast<std::uint8_t>(n >> 8);
        a.bytes[5] = static_cast<std::uint8_t>(n);
        const bool slash64 = pick(2) == 0;
        if (slash64) a.bytes[7] = static_cast<std::uint8_t>(pick(256));
        r.match.dst = IpPrefix::of(a, slash64 ? 64 : 48);
      }
      if (r.match.ports && r.match.ports->last == 0) r.match.ports->last = r.match.ports->first;
      if (pick(10) == 0) r.match.proto = L4Proto::tcp;
      r.use = ranked_stacks();
      p.rules.push_back(std::move(r));
    }
    for (std::size_t i = 0; i < port_only; ++i) {
      Rule r;
      const auto port = static_cast<std::uint16_t>(5000 + i);
      r.match.ports = PortRange{port, port};
      r.match.proto = L4Proto::tcp;
      r.use = ranked_stacks();
      p.rules.push_back(std::move(r));
    }
    for (std::size_t i = 0; i < intent_only; ++i) {
      Rule r;
      r.match.intent = static_cast<Intent>(1 + i % 3);
      r.use = ranked_stacks();
      p.rules.push_back(std::move(r));
    }
    std::shuffle(p.rules.begin(), p.rules.end(), rng_);
    p.rules.push_back(Rule{Match{}, {"kernel-a", "kernel-b"}});  // the catch-all stays last
    return p;
  }

  // Mostly sessions towards some rule's prefix (as an application talks to known services), the rest to
  // destinations only the intent rules or the catch-all cover.
  std::vector<SessionRequest> requests(const Policy& p, std::size_t count) {
    std::vector<const Rule*> with_dst;
    for (const Rule& r : p.rules)
      if (r.match.dst) with_dst.push_back(&r);
    std::vector<SessionRequest> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      SessionRequest s;
      if (!with_dst.empty() && pick(100) < 85) {
        const Rule& r = *with_dst[pick(with_dst.size())];
        s.dst.address = random_inside(*r.match.dst);
        s.dst.port = r.match.ports && pick(2) == 0 ? r.match.ports->first : common_port();
      } else {
        s.dst.address = IpAddress::v4(0xC0A80000u | static_cast<std::uint32_t>(pick(65536)));
        s.dst.port = pick(4) == 0 ? static_cast<std::uint16_t>(5000 + pick(64)) : common_port();
      }
      s.proto = pick(10) < 8 ? L4Proto::tcp : L4Proto::udp;
      const std::size_t intent = pick(10);
      s.intent = intent < 6 ? Intent::default_ : intent < 8 ? Intent::latency : intent < 9 ? Intent::throughput : Intent::bulk;
      out.push_back(s);
    }
    return out;
  }

private:
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

  std::uint16_t common_port() {
    static constexpr std::uint16_t kPorts[] = {80, 443, 8080, 5201, 22, 53, 3306, 6379};
    return kPorts[pick(std::size(kPorts))];
  }

  std::vector<StackId> ranked_stacks() {
    std::vector<StackId> s = bench_stacks();
    std::shuffle(s.begin(), s.end(), rng_);
    s.resize(1 + pick(3));
    return s;
  }

  IpAddress random_inside(const IpPrefix& p) {
    IpAddress a = p.address;
    for (int bit = p.length; bit < a.bit_width(); ++bit)
      if (pick(2) != 0) a.bytes[bit / 8] = static_cast<std::uint8_t>(a.bytes[bit / 8] | (0x80 >> (bit % 8)));
    return a;
  }

  std::mt19937 rng_;
};

}  // namespace dmm::bench
