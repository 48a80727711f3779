#pragma once
// A Policy compiled for fast first-match lookup (private to the core; the Orchestrator publishes it).
//
// Two indexes over the destination find the rules that can match a session:
//  - Ipv4PrefixIndex: every IPv4 rule except exact-port ones, in one leaf-pushed trie (<= 3 loads);
//  - TupleSpace: the rest (IPv6, no destination, exact port), one hash table per rule shape.
// Each index answer is a run of candidates in ascending rule order with the fields left to check.
// First-match exactness: the search visits the indexes ("steps") in order of the lowest rule index each
// holds, keeps the best (lowest) matching rule found so far, stops scanning a run at the first candidate
// not below it, and stops altogether at the first step whose lowest rule cannot beat it. So the answer is
// the lowest matching rule index, exactly what a linear first-match scan returns.
//
// Immutable after construction: any number of threads may call first_match concurrently.
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
  // The ranked stacks of rule `rule`.
  std::span<const StackIndex> stacks_of(std::uint32_t rule) const {
    const RuleStacks& s = rule_stacks_[rule];
    return {stack_pool_.data() + s.offset, s.count};
  }
  bool down(StackIndex s) const { return down_[s] != 0; }

private:
  struct Step {
    std::uint32_t min_rule;    // the lowest rule this step can return
    compiled::Family family;   // requests of another family skip the step
    std::uint8_t combos;       // bit (proto * 4 + intent) set when some rule of the step accepts that pair
    bool ipv4_index;           // the IPv4 prefix index, else tuple group `group`
    std::uint32_t group;
  };
  struct RuleStacks {
    std::uint32_t offset;
    std::uint8_t count;
  };

  PolicyVersion version_;
  compiled::CandidateRuns runs_;
  compiled::Ipv4PrefixIndex ipv4_;
  compiled::TupleSpace tuples_;
  std::vector<Step> steps_;  // ordered by min_rule
  std::vector<RuleStacks> rule_stacks_;
  std::vector<StackIndex> stack_pool_;
  std::vector<std::uint8_t> down_;  // per stack index: 1 if the policy lists it as down
};

}  // namespace dmm
