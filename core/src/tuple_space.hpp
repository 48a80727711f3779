#pragma once
// Tuple-space search (Srinivasan et al.) for the rules the IPv4 prefix index does not hold: IPv6 prefixes,
// port-only rules, and IPv4 prefixes with many exact-port rules (hashing the port keeps one rule per service
// on a prefix from becoming a long scan). Rules are grouped by shape - family, prefix length, exact port or
// not - so that inside a group a rule's key is just (masked destination [, port]) and one hash probe finds
// its run.
#include <cstdint>
#include <vector>

#include "candidate_runs.hpp"

namespace dmm::compiled {

enum class Family : std::uint8_t { v4, v6, any };

// A destination as two big-endian 64-bit words: IPv4 in the low 32 bits of `lo`, IPv6 in both; big-endian so
// that masking a prefix length is masking high bits.
struct Destination {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  static Destination of(const IpAddress& a);
};

class TupleSpace {
public:
  struct Entry {
    Family family;
    std::uint8_t length;  // 0 for Family::any
    bool exact_port;
    Destination dst;  // masked
    Candidate candidate;
  };
  struct GroupInfo {
    Family family;
    std::uint8_t length;
    bool exact_port;
    std::uint32_t min_rule;  // the lowest rule index in the group
    std::uint8_t combos;     // every (proto, intent) pair some rule of the group accepts
  };

  TupleSpace(std::vector<Entry> entries, CandidateRuns& runs);

  const std::vector<GroupInfo>& groups() const { return info_; }

  // The run of group `g` for this destination and port, or CandidateRuns::kEmpty.
  RunRef find(std::size_t g, const Destination& d, std::uint16_t port) const {
    const Group& group = groups_[g];
    const Key key{d.hi & group.mask_hi, d.lo & group.mask_lo, group.exact_port ? port : std::uint16_t{0}};
    const std::uint64_t h = hash(key);
    // A Bloom bit per key, in a bitmap small enough to stay in cache, answers most probes for absent keys
    // without touching the (larger) slot array.
    const std::uint64_t bit = h >> group.bloom_shift;
    if ((bloom_[group.bloom_offset + (bit >> 6)] & (std::uint64_t{1} << (bit & 63))) == 0) return CandidateRuns::kEmpty;
    const Slot* table = slots_.data() + group.slot_offset;
    for (std::uint64_t s = h >> group.slot_shift;; s = (s + 1) & group.slot_mask) {
      const Slot& slot = table[s];
      if (slot.run == CandidateRuns::kEmpty) return CandidateRuns::kEmpty;  // load <= 1/2: an empty slot ends it
      if (slot.hi == key.hi && slot.lo == key.lo && slot.port == key.port) return slot.run;
    }
  }

private:
  struct Key {
    std::uint64_t hi;
    std::uint64_t lo;
    std::uint16_t port;
  };
  // Open addressing with linear probing: no per-node indirection, and every group's table in one array.
  struct Slot {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    RunRef run = CandidateRuns::kEmpty;  // kEmpty marks a free slot
    std::uint16_t port = 0;
  };
  struct Group {
    std::uint64_t mask_hi;
    std::uint64_t mask_lo;
    std::uint64_t slot_mask;      // slot count - 1 (a power of two)
    std::uint32_t slot_offset;
    std::uint32_t bloom_offset;   // in 64-bit words
    std::uint8_t slot_shift;      // 64 - log2(slot count): the hash's top bits pick the slot...
    std::uint8_t bloom_shift;     // ...and a few more of them the Bloom bit
    bool exact_port;
  };

  static std::uint64_t hash(const Key& k) {
    // Fibonacci hashing: one multiply, whose top bits depend on every key bit (masked addresses have long
    // runs of zero low bits, so the top bits are the ones to use). Keys come from configs, not attackers.
    const std::uint64_t x = k.lo ^ (k.hi * 0xC2B2AE3D27D4EB4Full) ^ (std::uint64_t{k.port} << 48);
    return x * 0x9E3779B97F4A7C15ull;
  }

  std::vector<Group> groups_;
  std::vector<GroupInfo> info_;
  std::vector<Slot> slots_;
  std::vector<std::uint64_t> bloom_;
};

}  // namespace dmm::compiled
