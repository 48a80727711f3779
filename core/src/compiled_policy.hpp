#pragma once
// A Policy compiled for fast first-match lookup (private to the core; the Orchestrator publishes it).
//
// Tuple-space search: rules are grouped by the *shape* of their match — address family, prefix length, and
// whether the port is one exact port — so that inside a group every rule's key is just (masked destination
// [, port]) and one hash probe finds the rules that can match. Groups are visited in order of the lowest
// rule index they hold and the search stops as soon as no remaining group can beat the best rule found, which
// keeps first-match semantics exact: the answer is always the lowest matching rule index, as a linear scan
// would give.
//
// Immutable after construction, so any number of threads may call `first_match` concurrently.
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dmm/orchestrator.hpp"
#include "dmm/policy.hpp"

namespace dmm {

class CompiledPolicy {
public:
  static constexpr std::uint32_t kNoRule = UINT32_MAX;

  // `policy` must be valid for `stacks` (see validate()); `stacks` maps names to the orchestrator's indices.
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
  // A destination reduced to two big-endian 64-bit words: IPv4 in the low 32 bits of `lo`, IPv6 in both.
  struct Key {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    std::uint16_t port = 0;  // 0 in groups whose rules do not match one exact port
    friend bool operator==(const Key&, const Key&) = default;
  };

  // What a candidate rule still has to check once its group's key matched. Kept next to the rule index so
  // a candidate scan touches one array, not the rule list.
  struct Candidate {
    std::uint32_t rule;
    std::uint16_t port_first;
    std::uint16_t port_last;
    std::uint8_t proto;   // kAny or the L4Proto value
    std::uint8_t intent;  // kAny or the Intent value
  };
  static constexpr std::uint8_t kAny = 0xFF;

  // Open addressing with linear probing at load <= 1/2: usually one cache line per probe, no per-node
  // indirection, and the whole table of every group lives in one flat array.
  struct Slot {
    Key key;
    std::uint32_t min_rule = kNoRule;  // == candidates[offset].rule; kNoRule marks an empty slot
    std::uint32_t offset = 0;          // into candidates_
    std::uint32_t count = 0;
  };

  enum class Family : std::uint8_t { v4, v6, any };

  struct Group {
    Family family;
    std::uint8_t length;
    bool exact_port;
    std::uint8_t combos = 0;  // bit (proto * 4 + intent) set when some rule of the group accepts that pair
    std::uint32_t min_rule = kNoRule;
    std::uint64_t mask_hi = 0;
    std::uint64_t mask_lo = 0;
    std::uint64_t slot_mask = 0;  // slot count - 1 (a power of two)
    std::uint32_t slot_offset = 0;  // into slots_
  };

  struct RuleStacks {
    std::uint32_t offset;
    std::uint8_t count;
  };

  static std::uint64_t hash(const Key& k);
  const Slot* find(const Group& g, const Key& k) const;
  void build_groups(const Policy& policy);

  PolicyVersion version_;
  std::vector<Group> groups_;           // ordered by min_rule
  std::vector<Slot> slots_;             // every group's hash table, back to back
  std::vector<Candidate> candidates_;   // per key, rule indices ascending
  std::vector<RuleStacks> rule_stacks_;
  std::vector<StackIndex> stack_pool_;
  std::vector<std::uint8_t> down_;      // per stack index: 1 if the policy lists it as down
};

}  // namespace dmm
