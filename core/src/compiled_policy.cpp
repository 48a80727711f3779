#include "compiled_policy.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace dmm {
namespace {

using compiled::Candidate;
using compiled::Destination;
using compiled::Family;
using compiled::Ipv4PrefixIndex;
using compiled::TupleSpace;

// IPv4 rules go to the prefix index unless they name one exact port: many exact-port rules on one prefix
// (one per service) are better hashed by port than scanned.
bool in_ipv4_index(const Match& m) {
  return m.dst && m.dst->address.family == IpFamily::v4 && !(m.ports && m.ports->exact());
}

std::vector<Ipv4PrefixIndex::Entry> ipv4_entries(const Policy& p) {
  std::vector<Ipv4PrefixIndex::Entry> out;
  for (std::size_t i = 0; i < p.rules.size(); ++i) {
    const Match& m = p.rules[i].match;
    if (!in_ipv4_index(m)) continue;
    out.push_back({static_cast<std::uint32_t>(Destination::of(m.dst->address).lo), m.dst->length,
                   Candidate::of(static_cast<std::uint32_t>(i), m)});
  }
  return out;
}

std::vector<TupleSpace::Entry> tuple_entries(const Policy& p) {
  std::vector<TupleSpace::Entry> out;
  for (std::size_t i = 0; i < p.rules.size(); ++i) {
    const Match& m = p.rules[i].match;
    if (in_ipv4_index(m)) continue;
    TupleSpace::Entry e{};
    e.family = !m.dst ? Family::any : m.dst->address.family == IpFamily::v4 ? Family::v4 : Family::v6;
    e.length = m.dst ? m.dst->length : 0;
    e.exact_port = m.ports && m.ports->exact();
    if (m.dst) e.dst = Destination::of(m.dst->address);
    e.candidate = Candidate::of(static_cast<std::uint32_t>(i), m);
    out.push_back(e);
  }
  return out;
}

}  // namespace

CompiledPolicy::CompiledPolicy(const Policy& policy, const std::vector<StackId>& stacks)
    : version_(policy.version),
      ipv4_(ipv4_entries(policy), runs_),
      tuples_(tuple_entries(policy), runs_),
      down_(stacks.size(), 0) {
  runs_.seal();

  std::unordered_map<std::string_view, StackIndex> index;
  for (std::size_t i = 0; i < stacks.size(); ++i) index.emplace(stacks[i], static_cast<StackIndex>(i));
  auto index_of = [&index](const StackId& id) {
    const auto it = index.find(id);
    if (it == index.end()) throw std::invalid_argument("policy names unknown stack '" + id + "'");
    return it->second;
  };
  rule_stacks_.reserve(policy.rules.size());
  for (const Rule& rule : policy.rules) {
    rule_stacks_.push_back({static_cast<std::uint32_t>(stack_pool_.size()), static_cast<std::uint8_t>(rule.use.size())});
    for (const StackId& id : rule.use) stack_pool_.push_back(index_of(id));
  }
  for (const StackId& id : policy.down) down_[index_of(id)] = 1;

  // The steps, with the filters first_match uses to skip them cheaply.
  if (!ipv4_.empty()) steps_.push_back(Step{ipv4_.min_rule(), Family::v4, ipv4_.combos(), true, 0});
  for (std::size_t g = 0; g < tuples_.groups().size(); ++g) {
    const auto& info = tuples_.groups()[g];
    steps_.push_back(Step{info.min_rule, info.family, info.combos, false, static_cast<std::uint32_t>(g)});
  }
  // Visiting steps by their best rule lets first_match stop at the first step that cannot win.
  std::sort(steps_.begin(), steps_.end(), [](const Step& a, const Step& b) { return a.min_rule < b.min_rule; });
}

std::uint32_t CompiledPolicy::first_match(const SessionRequest& r) const {
  const Destination dst = Destination::of(r.dst.address);
  const Family family = r.dst.address.family == IpFamily::v4 ? Family::v4 : Family::v6;
  const std::uint8_t combo = compiled::combo_bit(static_cast<unsigned>(r.proto), static_cast<unsigned>(r.intent));
  const compiled::Probe probe{r.dst.port, static_cast<std::uint8_t>(r.proto), static_cast<std::uint8_t>(r.intent)};

  std::uint32_t best = kNoRule;
  for (const Step& s : steps_) {
    if (s.min_rule >= best) break;  // steps are ordered by min_rule: none of the rest can win either
    if (s.family != Family::any && s.family != family) continue;
    if ((s.combos & combo) == 0) continue;
    const std::uint32_t run =
        s.ipv4_index ? ipv4_.lookup(static_cast<std::uint32_t>(dst.lo)) : tuples_.find(s.group, dst, r.dst.port);
    best = runs_.first_fit(run, probe, best);
  }
  return best;
}

}  // namespace dmm
