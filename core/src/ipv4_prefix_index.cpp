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
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.address, a.length) < std::tie(b.address, b.length);
  });
  std::vector<Prefix> prefixes;
  for (const Entry& e : entries) {
    if (prefixes.empty() || prefixes.back().address != e.address || prefixes.back().length != e.length)
      prefixes.push_back(Prefix{e.address, e.length, {}});
    prefixes.back().rules.push_back(e.candidate);
  }
  for (Prefix& p : prefixes)
    std::sort(p.rules.begin(), p.rules.end(), [](const Candidate& x, const Candidate& y) { return x.rule < y.rule; });

  root_.assign(std::size_t{1} << 16, CandidateRuns::kEmpty);
  build_block(prefixes, 0, prefixes.size(), 0, 0, 16, {}, runs, root_, 0);
}

// Fills the 2^stride entries of the block covering [base, base + 2^(32 - base_length)) into
// out[out_offset...]. prefixes[first, last) are the prefixes inside the block that are longer than
// base_length; `inherited` are the rules of the prefixes that cover the whole block.
void Ipv4PrefixIndex::build_block(const std::vector<Prefix>& prefixes, std::size_t first, std::size_t last,
                                  std::uint32_t base, unsigned base_length, unsigned stride,
                                  const std::vector<Candidate>& inherited, CandidateRuns& runs,
                                  std::vector<std::uint32_t>& out, std::size_t out_offset) {
  const unsigned end_length = base_length + stride;  // prefixes up to this length end in this block
  const unsigned shift = 32 - end_length;             // address bits below one entry
  std::vector<std::size_t> open;                      // prefixes covering the current entry, outermost first
  std::vector<Candidate> rules = inherited;           // the run of the current entry
  std::uint32_t run = runs.add(rules);
  bool changed = false;
  std::size_t i = first;

  for (std::uint32_t j = 0; j < (1u << stride); ++j) {
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
    // Longer prefixes inside this entry need a child block (only strides of 8 follow the root).
    const std::uint64_t entry_last = std::uint64_t{entry_base} + (std::uint64_t{1} << shift) - 1;
    std::size_t inner_end = i;
    while (inner_end < last && prefixes[inner_end].address <= entry_last) ++inner_end;
    if (inner_end == i) {
      out[out_offset + j] = run;
      continue;
    }
    const auto block = static_cast<std::uint32_t>(blocks_.size() >> 8);
    blocks_.resize(blocks_.size() + 256);  // `out` may be blocks_: it is written by index, never by pointer
    build_block(prefixes, i, inner_end, entry_base, end_length, 8, rules, runs, blocks_, std::size_t{block} << 8);
    out[out_offset + j] = kChild | block;
    i = inner_end;
  }
}

}  // namespace dmm::compiled
