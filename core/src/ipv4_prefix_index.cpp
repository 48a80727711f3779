#include "ipv4_prefix_index.hpp"

#include <algorithm>
#include <tuple>

namespace dmm::compiled {

struct Ipv4PrefixIndex::Prefix {
  std::uint32_t address;
  std::uint8_t length;
  std::vector<Candidate> rules;  // ascending rule index

  std::uint64_t last_address() const {  // inclusive, as 64 bits so that /0 does not overflow
    return std::uint64_t{address} + (std::uint64_t{1} << (32 - length)) - 1;
  }
};

namespace {

std::vector<Candidate> merged(const std::vector<Candidate>& a, const std::vector<Candidate>& b) {
  std::vector<Candidate> out;
  out.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out),
             [](const Candidate& x, const Candidate& y) { return x.rule < y.rule; });
  return out;
}

}  // namespace

Ipv4PrefixIndex::Ipv4PrefixIndex(std::vector<Entry> entries, CandidateRuns& runs) {
  if (entries.empty()) return;
  for (const Entry& e : entries) {
    min_rule_ = std::min(min_rule_, e.candidate.rule);
    combos_ |= accepted_combos(e.candidate);
  }
  // Distinct prefixes in (address, length) order: a prefix comes before every longer prefix inside it, so
  // one left-to-right sweep sees them nested, like brackets.
  // Rule index as the tie-breaker keeps rule order within a prefix, as a stable sort would. (Not
  // std::stable_sort: its temporary buffer trips a false alloc-dealloc-mismatch in GCC 12's ASan builds.)
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.address, a.length, a.candidate.rule) < std::tie(b.address, b.length, b.candidate.rule);
  });
  std::vector<Prefix> prefixes;
  for (const Entry& e : entries) {
    if (prefixes.empty() || prefixes.back().address != e.address || prefixes.back().length != e.length)
      prefixes.push_back(Prefix{e.address, e.length, {}});
    prefixes.back().rules.push_back(e.candidate);
  }
  for (Prefix& p : prefixes)
    std::sort(p.rules.begin(), p.rules.end(), [](const Candidate& x, const Candidate& y) { return x.rule < y.rule; });

  blocks_.resize(256);
  build_block(prefixes, 0, prefixes.size(), 0, 0, {}, runs, 0);
}

// Fills the 256 entries of block `block`, which covers [base, base + 2^(32 - base_length)).
// prefixes[first, last) are the prefixes inside it that are longer than base_length (or all of them, /0
// included, for the root); `inherited` are the rules of the prefixes covering the whole block.
void Ipv4PrefixIndex::build_block(const std::vector<Prefix>& prefixes, std::size_t first, std::size_t last,
                                  std::uint32_t base, unsigned base_length,
                                  const std::vector<Candidate>& inherited, CandidateRuns& runs, std::uint32_t block) {
  const unsigned end_length = base_length + 8;       // prefixes up to this length end in this block
  const unsigned shift = 32 - end_length;             // address bits below one entry
  std::vector<std::size_t> open;                      // prefixes covering the current entry, outermost first
  std::vector<Candidate> rules = inherited;           // the run of the current entry
  RunRef run = runs.add(rules);
  bool changed = false;
  std::size_t i = first;

  for (std::uint32_t j = 0; j < 256; ++j) {
    const std::uint32_t entry_base = base + (j << shift);
    while (!open.empty() && prefixes[open.back()].last_address() < entry_base) {
      open.pop_back();
      changed = true;
    }
    // Prefixes that end in this block and start here cover this entry and maybe the next ones.
    while (i < last && prefixes[i].address == entry_base && prefixes[i].length <= end_length) {
      open.push_back(i++);
      changed = true;
    }
    if (changed) {
      rules = inherited;
      for (std::size_t p : open) rules = merged(rules, prefixes[p].rules);
      run = runs.add(rules);
      changed = false;
    }
    // Longer prefixes inside this entry need a child block.
    const std::uint64_t entry_last = std::uint64_t{entry_base} + (std::uint64_t{1} << shift) - 1;
    std::size_t inner_end = i;
    while (inner_end < last && prefixes[inner_end].address <= entry_last) ++inner_end;
    const std::size_t slot = (std::size_t{block} << 8) | j;
    if (inner_end == i) {
      blocks_[slot] = run;
      continue;
    }
    const auto child = static_cast<std::uint32_t>(blocks_.size() >> 8);
    blocks_.resize(blocks_.size() + 256);  // entries are written by index: the resize may move them
    build_block(prefixes, i, inner_end, entry_base, end_length, rules, runs, child);
    blocks_[slot] = kChild | child;
    i = inner_end;
  }
}

}  // namespace dmm::compiled
