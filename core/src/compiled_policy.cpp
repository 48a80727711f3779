#include "compiled_policy.hpp"

#include <algorithm>
#include <map>
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
using Home = CompiledPolicy::Home;

// A prefix with more exact-port rules than this keeps them in the tuple space, hashed by port, so that a
// prefix with one rule per service port does not turn into a long scan in the IPv4 index. Below it, the
// IPv4 index scans them in its short runs, which saves a hash probe per lookup.
constexpr std::size_t kMaxExactPortRulesPerIndexedPrefix = 8;

std::vector<Home> homes_of(const Policy& p) {
  std::map<std::pair<std::uint32_t, std::uint8_t>, std::size_t> exact_per_prefix;
  auto v4_key = [](const Match& m) {
    return std::pair{static_cast<std::uint32_t>(Destination::of(m.dst->address).lo), m.dst->length};
  };
  auto is_v4 = [](const Match& m) { return m.dst && m.dst->address.family == IpFamily::v4; };
  for (const Rule& r : p.rules)
    if (is_v4(r.match) && r.match.ports && r.match.ports->exact()) ++exact_per_prefix[v4_key(r.match)];

  std::vector<Home> homes;
  homes.reserve(p.rules.size());
  for (const Rule& r : p.rules) {
    const Match& m = r.match;
    const bool exact_port = m.ports && m.ports->exact();
    if (is_v4(m) && (!exact_port || exact_per_prefix[v4_key(m)] <= kMaxExactPortRulesPerIndexedPrefix)) {
      homes.push_back(Home::ipv4_index);
    } else if (!m.dst && !exact_port) {
      homes.push_back(Home::any_dst);
    } else {
      homes.push_back(Home::tuple_space);
    }
  }
  return homes;
}

std::vector<Ipv4PrefixIndex::Entry> ipv4_entries(const Policy& p, const std::vector<Home>& homes) {
  std::vector<Ipv4PrefixIndex::Entry> out;
  for (std::size_t i = 0; i < p.rules.size(); ++i) {
    if (homes[i] != Home::ipv4_index) continue;
    const Match& m = p.rules[i].match;
    out.push_back({static_cast<std::uint32_t>(Destination::of(m.dst->address).lo), m.dst->length,
                   Candidate::of(static_cast<std::uint32_t>(i), m)});
  }
  return out;
}

std::vector<TupleSpace::Entry> tuple_entries(const Policy& p, const std::vector<Home>& homes) {
  std::vector<TupleSpace::Entry> out;
  for (std::size_t i = 0; i < p.rules.size(); ++i) {
    if (homes[i] != Home::tuple_space) continue;
    const Match& m = p.rules[i].match;
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

// Rule indices share a 32-bit word with flags in the indexes; no policy that fits in memory comes close.
const Policy& checked_size(const Policy& p) {
  if (p.rules.size() >= compiled::CandidateRuns::kMaxRules) throw std::length_error("policy has too many rules");
  return p;
}

}  // namespace

CompiledPolicy::CompiledPolicy(const Policy& policy, const std::vector<StackId>& stacks)
    : CompiledPolicy(policy, stacks, homes_of(checked_size(policy))) {}

CompiledPolicy::CompiledPolicy(const Policy& policy, const std::vector<StackId>& stacks,
                               const std::vector<Home>& homes)
    : version_(policy.version),
      ipv4_(ipv4_entries(policy, homes), runs_),
      tuples_(tuple_entries(policy, homes), runs_),
      down_(stacks.size(), 0) {
  build_any_dst(policy, homes);
  build_steps();
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
    RuleStacks s;
    s.count = static_cast<std::uint8_t>(rule.use.size());
    s.race = static_cast<std::uint8_t>(rule.race) & 3u;
    if (rule.attempt_delay)
      s.attempt_delay_ms = static_cast<std::uint16_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(*rule.attempt_delay).count());
    if (s.count <= RuleStacks::kInline) {
      for (std::size_t k = 0; k < rule.use.size(); ++k) s.inline_stacks[k] = index_of(rule.use[k]);
    } else {
      s.pool_offset = static_cast<std::uint32_t>(stack_pool_.size());
      for (const StackId& id : rule.use) stack_pool_.push_back(index_of(id));
    }
    rule_stacks_.push_back(s);
  }
  for (const StackId& id : policy.down) down_[index_of(id)] = 1;
  for (std::size_t r = 0; r < rule_stacks_.size(); ++r)
    for (StackIndex st : stacks_of(static_cast<std::uint32_t>(r)))
      if (down_[st]) rule_stacks_[r].any_down = 1;
}

void CompiledPolicy::build_any_dst(const Policy& policy, const std::vector<Home>& homes) {
  // Rules that match any destination and port differ only in proto and intent, so they are sorted out per
  // pair now: a lookup then takes its pair's run, whose first rule usually fits outright.
  std::array<std::vector<Candidate>, 8> per_combo;
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    if (homes[i] != Home::any_dst) continue;
    const Candidate c = Candidate::of(static_cast<std::uint32_t>(i), policy.rules[i].match);
    const std::uint8_t combos = compiled::accepted_combos(c);
    for (unsigned k = 0; k < 8; ++k)
      if (combos & (1u << k)) per_combo[k].push_back(Candidate{c.rule, c.port_first, c.port_last, compiled::kAny, compiled::kAny});
    any_dst_min_rule_ = std::min(any_dst_min_rule_, c.rule);
    any_dst_combos_ |= combos;
  }
  for (unsigned k = 0; k < 8; ++k) any_dst_runs_[k] = runs_.add(per_combo[k]);
}

void CompiledPolicy::build_steps() {
  auto add = [this](Family family, const Step& step) {
    if (family != Family::v6) v4_steps_.push_back(step);
    if (family != Family::v4) v6_steps_.push_back(step);
  };
  if (!ipv4_.empty()) add(Family::v4, Step{ipv4_.min_rule(), ipv4_.combos(), StepKind::ipv4_index, 0});
  for (std::size_t g = 0; g < tuples_.groups().size(); ++g) {
    const auto& info = tuples_.groups()[g];
    add(info.family, Step{info.min_rule, info.combos, StepKind::tuple_group, static_cast<std::uint32_t>(g)});
  }
  if (any_dst_combos_ != 0) add(Family::any, Step{any_dst_min_rule_, any_dst_combos_, StepKind::any_dst, 0});

  // Visiting steps by their best rule lets first_match stop at the first step that cannot win.
  auto by_min_rule = [](const Step& a, const Step& b) { return a.min_rule < b.min_rule; };
  std::sort(v4_steps_.begin(), v4_steps_.end(), by_min_rule);
  std::sort(v6_steps_.begin(), v6_steps_.end(), by_min_rule);
}

std::uint32_t CompiledPolicy::first_match(const SessionRequest& r) const {
  const Destination dst = Destination::of(r.dst.address);
  const auto proto = static_cast<std::uint8_t>(r.proto);
  const auto intent = static_cast<std::uint8_t>(r.intent);
  const unsigned combo_index = proto * 4u + intent;
  const compiled::Probe probe{r.dst.port, proto, intent};
  const std::vector<Step>& steps = r.dst.address.family == IpFamily::v4 ? v4_steps_ : v6_steps_;

  std::uint32_t best = kNoRule;
  for (const Step& s : steps) {
    if (s.min_rule >= best) break;  // steps are ordered by min_rule: none of the rest can win either
    if ((s.combos & (1u << combo_index)) == 0) continue;
    compiled::RunRef run = compiled::CandidateRuns::kEmpty;
    switch (s.kind) {
      case StepKind::ipv4_index: run = ipv4_.lookup(static_cast<std::uint32_t>(dst.lo)); break;
      case StepKind::tuple_group: run = tuples_.find(s.group, dst, r.dst.port); break;
      case StepKind::any_dst: run = any_dst_runs_[combo_index]; break;
    }
    best = runs_.first_fit(run, probe, best);
  }
  return best;
}

}  // namespace dmm
