#pragma once
// IPv4 destination index: for any address, the run of every indexed rule whose prefix contains it.
//
// A leaf-pushed multibit trie with strides 16-8-8 (the DIR-16-8-8 layout of router FIBs): the root has an
// entry per /16, and a /16 or /24 that holds longer prefixes points to a 256-entry child block. Each leaf
// entry is the offset of a candidate run that already merges the rules of all prefixes covering it, however
// long, so a lookup is at most three dependent loads and one short scan, whatever the number of rules or
// prefix lengths. (A hash table per prefix length would cost one probe per length present.)
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

  bool empty() const { return root_.empty(); }
  std::uint32_t min_rule() const { return min_rule_; }  // the lowest rule index indexed
  std::uint8_t combos() const { return combos_; }       // every (proto, intent) pair an indexed rule accepts

  // The candidate run for `address` (host order). Must not be called when empty().
  std::uint32_t lookup(std::uint32_t address) const {
    std::uint32_t e = root_[address >> 16];
    if (e & kChild) {
      e = blocks_[((e & ~kChild) << 8) | ((address >> 8) & 0xFF)];
      if (e & kChild) e = blocks_[((e & ~kChild) << 8) | (address & 0xFF)];
    }
    return e;
  }

private:
  static constexpr std::uint32_t kChild = 0x80000000u;  // entry names a child block, not a run

  struct Prefix;  // a distinct prefix and its rules, during the build
  void build_block(const std::vector<Prefix>& prefixes, std::size_t first, std::size_t last,
                            std::uint32_t base, unsigned base_length, unsigned stride,
                            const std::vector<Candidate>& inherited, CandidateRuns& runs,
                            std::vector<std::uint32_t>& out, std::size_t out_offset);

  std::vector<std::uint32_t> root_;    // 65536 entries, or none when no rule has an IPv4 prefix
  std::vector<std::uint32_t> blocks_;  // child blocks of 256 entries, back to back
  std::uint32_t min_rule_ = kNoRule;
  std::uint8_t combos_ = 0;
};

}  // namespace dmm::compiled
