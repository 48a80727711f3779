#pragma once
// A Policy compiled for fast first-match lookup (private to the core; the Orchestrator publishes it).
//
// Three kinds of "step" find the rules that can match a session:
//  - the IPv4 prefix index: the IPv4 rules, in one leaf-pushed trie (<= 4 loads), except the exact-port
//    rules of prefixes that have many of them;
//  - tuple groups: IPv6 rules, those many-port IPv4 rules and port-only rules, a hash table per rule shape;
//  - the rules with neither destination nor exact port, pre-sorted per (proto, intent): no lookup at all.
// Each answer is a run of candidates in ascending rule order with the fields left to check.
// (Plain tuple-space search for every rule, tried first, costs a hash probe per rule shape present and was
// about 3x slower at 100,000 rules; the trie answers all IPv4 prefix lengths with one walk.)
// First-match exactness: the steps are visited in order of the lowest rule index each holds, keeping the
// best (lowest) matching rule found so far; a run's scan stops at the first candidate not below it, and the
// search stops at the first step whose lowest rule cannot beat it. So the answer is the lowest matching rule
// index, exactly what a linear first-match scan returns.
//
// Immutable after construction: any number of threads may call first_match concurrently.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "candidate_runs.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/policy.hpp"
#include "ipv4_prefix_index.hpp"
#include "tuple_space.hpp"

namespace dmm {

class CompiledPolicy {
public:
  static constexpr std::uint32_t kNoRule = compiled::kNoRule;

  // `policy` must be valid for `stacks` (see validate()); rule stacks become indices into `stacks`.
  CompiledPolicy(const Policy& policy, const std::vector<StackId>& stacks);

  PolicyVersion version() const { return version_; }
  // The lowest index of a rule whose match fits `r`, or kNoRule. Lock-free and allocation-free.
  std::uint32_t first_match(const SessionRequest& r) const;
  // Stack entries readable at stacks_of(rule).data(), even past its size(): lets a caller scan a fixed
  // number of them without a data-dependent loop exit.
  static constexpr std::size_t kReadableStacks = 4;
  // The ranked stacks of rule `rule`.
  std::span<const StackIndex> stacks_of(std::uint32_t rule) const {
    const RuleStacks& s = rule_stacks_[rule];
    if (s.count <= RuleStacks::kInline) return {s.inline_stacks.data(), s.count};
    return {stack_pool_.data() + s.pool_offset, s.count};
  }
  bool down(StackIndex s) const { return down_[s] != 0; }
  RaceMode race_of(std::uint32_t rule) const { return static_cast<RaceMode>(rule_stacks_[rule].race); }
  AttemptDelay attempt_delay_of(std::uint32_t rule) const {
    const std::uint16_t ms = rule_stacks_[rule].attempt_delay_ms;
    return ms == 0 ? AttemptDelay{} : AttemptDelay{std::chrono::milliseconds(ms)};
  }
  // Whether the policy lists any stack of rule `rule` as down.
  bool any_stack_down(std::uint32_t rule) const { return rule_stacks_[rule].any_down != 0; }

  // Where a rule is indexed (public only for the helpers in the .cpp).
  enum class Home : std::uint8_t { ipv4_index, tuple_space, any_dst };

private:
  CompiledPolicy(const Policy& policy, const std::vector<StackId>& stacks, const std::vector<Home>& homes);
  void build_any_dst(const Policy& policy, const std::vector<Home>& homes);
  void build_steps();

  enum class StepKind : std::uint8_t {
    ipv4_index,   // look the destination up in ipv4_
    tuple_group,  // probe tuple group `group`
    any_dst,      // take any_dst_runs_[proto * 4 + intent]
  };
  struct Step {
    std::uint32_t min_rule;  // the lowest rule this step can return
    std::uint8_t combos;     // bit (proto * 4 + intent) set when some rule of the step accepts that pair
    StepKind kind;
    std::uint32_t group;
  };
  // A rule's ranked stacks and how to race them. Most rules rank a few, kept inline so that a decision costs
  // one cache miss here, not two, in a large policy.
  struct RuleStacks {
    static constexpr std::size_t kInline = 4;
    std::uint32_t pool_offset = 0;  // into stack_pool_ when count > kInline
    std::uint8_t count = 0;
    std::uint8_t any_down : 1 = 0;  // some stack of the rule is in policy.down
    std::uint8_t race : 2 = 0;      // a RaceMode
    std::uint16_t attempt_delay_ms = 0;  // 0: auto (fixed delays are whole milliseconds, validate() checks)
    std::array<StackIndex, kInline> inline_stacks{};
  };
  static_assert(sizeof(RuleStacks) == 16);
  static_assert(RuleStacks::kInline == kReadableStacks);  // pool-stored rules have more than that anyway

  PolicyVersion version_;
  compiled::CandidateRuns runs_;
  compiled::Ipv4PrefixIndex ipv4_;
  compiled::TupleSpace tuples_;
  // Rules with no destination and no exact port, per (proto, intent).
  std::array<compiled::RunRef, 8> any_dst_runs_{};
  std::uint32_t any_dst_min_rule_ = kNoRule;
  std::uint8_t any_dst_combos_ = 0;
  // Steps ordered by min_rule, one list per request family, so a lookup never meets a step of the other one.
  std::vector<Step> v4_steps_;
  std::vector<Step> v6_steps_;
  std::vector<RuleStacks> rule_stacks_;
  std::vector<StackIndex> stack_pool_;  // stacks of the rules that rank more than RuleStacks::kInline
  std::vector<std::uint8_t> down_;  // per stack index: 1 if the policy lists it as down
};

}  // namespace dmm
