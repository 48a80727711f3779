#pragma once
// IPv4 destination index: for any address, the run of every indexed rule whose prefix contains it.
//
// A leaf-pushed multibit trie with 8-bit strides (the layout of router FIBs): a block has 256 entries, one per
// value of the next address byte; an entry holding longer prefixes points to a child block. Each leaf entry
// is the RunRef of a candidate run that already merges the rules of all prefixes covering it, however long,
// so a lookup is at most four dependent loads (usually two or three into small, hot blocks) and one short
// scan, whatever the number of rules or prefix lengths. (A hash table per prefix length would cost a probe
// per length present.) 8-bit strides rather than a 64Ki-entry root keep small policies small: a policy is
// rebuilt on every version.
#include <cstdint>
#include <vector>

#include "candidate_runs.hpp"

namespace dmm::compiled {

class Ipv4PrefixIndex {
public:
  struct Entry {
    std::uint32_t address;  // host order, masked to `length`
    std::uint8_t length;
    Candidate candidate;
  };

  // Builds the index over `entries` (any order); runs are added to `runs`.
  Ipv4PrefixIndex(std::vector<Entry> entries, CandidateRuns& runs);

  bool empty() const { return blocks_.empty(); }
  std::uint32_t min_rule() const { return min_rule_; }  // the lowest rule index indexed
  std::uint8_t combos() const { return combos_; }       // every (proto, intent) pair an indexed rule accepts

  // The candidate run for `address` (host order). Must not be called when empty().
  RunRef lookup(std::uint32_t address) const {
    std::uint32_t e = blocks_[address >> 24];
    for (int shift = 16; (e & kChild) != 0 && shift >= 0; shift -= 8)
      e = blocks_[((e & ~kChild) << 8) | ((address >> shift) & 0xFF)];
    return e;
  }

private:
  // An entry is a RunRef, or a child block index flagged kChild (a bit no RunRef uses).
  static constexpr std::uint32_t kChild = 0x80000000u;
  static_assert((CandidateRuns::kDirect & kChild) == 0);

  struct Prefix;  // a distinct prefix and its rules, during the build
  void build_block(const std::vector<Prefix>& prefixes, std::size_t first, std::size_t last,
                   std::uint32_t base, unsigned base_length,
                   const std::vector<Candidate>& inherited, CandidateRuns& runs, std::uint32_t block);

  // Blocks of 256 entries back to back; block 0 is the root. Empty when no rule has an IPv4 prefix.
  std::vector<std::uint32_t> blocks_;
  std::uint32_t min_rule_ = kNoRule;
  std::uint8_t combos_ = 0;
};

}  // namespace dmm::compiled
