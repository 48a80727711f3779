#pragma once
// Candidate runs: the rule lists a compiled policy's indexes point into. A run is the rules that may match
// once an index has matched the destination (and maybe the port), in ascending rule order, each with the
// fields still to check, and ends with a sentinel whose rule index is kNoRule. Keeping the leftover fields
// beside the index means a scan reads one contiguous array and never the Policy's rule objects.
#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "dmm/policy.hpp"

namespace dmm::compiled {

inline constexpr std::uint32_t kNoRule = UINT32_MAX;
inline constexpr std::uint8_t kAny = 0xFF;

struct Candidate {
  std::uint32_t rule = kNoRule;
  std::uint16_t port_first = 0;
  std::uint16_t port_last = 65535;
  std::uint8_t proto = kAny;   // kAny or the L4Proto value
  std::uint8_t intent = kAny;  // kAny or the Intent value

  static Candidate of(std::uint32_t rule, const Match& m) {
    Candidate c;
    c.rule = rule;
    if (m.ports) {
      c.port_first = m.ports->first;
      c.port_last = m.ports->last;
    }
    if (m.proto) c.proto = static_cast<std::uint8_t>(*m.proto);
    if (m.intent) c.intent = static_cast<std::uint8_t>(*m.intent);
    return c;
  }
  friend auto operator<=>(const Candidate&, const Candidate&) = default;
};

// The request fields a candidate still checks, prepared once per lookup.
struct Probe {
  std::uint16_t port;
  std::uint8_t proto;
  std::uint8_t intent;
};

// (proto, intent) pairs as one bit each, bit proto * 4 + intent: a whole index can be skipped when none of
// its rules accepts the request's pair.
inline std::uint8_t combo_bit(unsigned proto, unsigned intent) {
  return static_cast<std::uint8_t>(1u << (proto * 4 + intent));
}
inline std::uint8_t accepted_combos(const Candidate& c) {
  std::uint8_t bits = 0;
  for (unsigned p = 0; p < 2; ++p)
    for (unsigned i = 0; i < 4; ++i)
      if ((c.proto == kAny || c.proto == p) && (c.intent == kAny || c.intent == i)) bits |= combo_bit(p, i);
  return bits;
}

// What an index stores for a run: its offset in the pool, or - when the run's first (lowest) rule has nothing
// left to check - that rule itself, flagged kDirect. Then the answer needs no further memory access, which
// is the common case (most rules match on the destination alone). Rule indices stay below kDirect.
using RunRef = std::uint32_t;

class CandidateRuns {
public:
  // Offset 0 is the shared empty run, so an index can use 0 for "nothing here".
  static constexpr RunRef kEmpty = 0;
  static constexpr RunRef kDirect = 0x40000000u;
  static constexpr std::size_t kMaxRules = kDirect;

  CandidateRuns() { pool_.push_back(Candidate{}); }

  // Stores a run (rules ascending) and returns its reference. `port_implied`: the index already matched the
  // port exactly, so the candidates' port ranges need no check. Identical runs are stored once: a prefix
  // index repeats the same few lists across many entries.
  RunRef add(const std::vector<Candidate>& run, bool port_implied = false) {
    if (run.empty()) return kEmpty;
    const Candidate& head = run.front();
    if ((port_implied || (head.port_first == 0 && head.port_last == 65535)) && head.proto == kAny &&
        head.intent == kAny)
      return kDirect | head.rule;
    const auto [it, inserted] = interned_.try_emplace(run, static_cast<std::uint32_t>(pool_.size()));
    if (inserted) {
      pool_.insert(pool_.end(), run.begin(), run.end());
      pool_.push_back(Candidate{});
    }
    return it->second;
  }

  // The lowest rule of run `ref` below `best` whose leftover fields fit, else `best`.
  std::uint32_t first_fit(RunRef ref, const Probe& p, std::uint32_t best) const {
    if (ref & kDirect) return std::min(best, ref & ~kDirect);
    // The sentinel's kNoRule is never below `best`, so the run's end needs no separate check.
    for (const Candidate* c = pool_.data() + ref; c->rule < best; ++c) {
      if (p.port < c->port_first || p.port > c->port_last) continue;
      if (c->proto != kAny && c->proto != p.proto) continue;
      if (c->intent != kAny && c->intent != p.intent) continue;
      return c->rule;
    }
    return best;
  }

  // Build-time interning is not needed once the policy is compiled.
  void seal() { interned_.clear(); }

private:
  std::vector<Candidate> pool_;
  std::map<std::vector<Candidate>, std::uint32_t> interned_;
};

}  // namespace dmm::compiled
