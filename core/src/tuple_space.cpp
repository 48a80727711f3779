#include "tuple_space.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <tuple>

namespace dmm::compiled {
namespace {

std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return std::endian::native == std::endian::little ? __builtin_bswap64(v) : v;
}

std::uint64_t high_bits(unsigned n) { return n == 0 ? 0 : ~std::uint64_t{0} << (64 - n); }

constexpr std::size_t kBloomBitsPerKey = 8;  // about 12% false positives with one hash: enough to skip most

}  // namespace

Destination Destination::of(const IpAddress& a) {
  if (a.family == IpFamily::v4) return {0, load_be64(a.bytes.data()) >> 32};
  return {load_be64(a.bytes.data()), load_be64(a.bytes.data() + 8)};
}

TupleSpace::TupleSpace(std::vector<Entry> entries, CandidateRuns& runs) {
  std::map<std::tuple<Family, std::uint8_t, bool>, std::vector<Entry>> shapes;
  for (Entry& e : entries) shapes[{e.family, e.length, e.exact_port}].push_back(e);

  for (auto& [shape, members] : shapes) {
    const auto [family, length, exact_port] = shape;
    Group g{};
    g.exact_port = exact_port;
    if (family == Family::v4) {
      g.mask_lo = high_bits(length) >> 32;  // IPv4 sits in the low 32 bits of `lo`
    } else if (family == Family::v6) {
      g.mask_hi = high_bits(std::min<unsigned>(length, 64));
      g.mask_lo = high_bits(length > 64 ? length - 64u : 0u);
    }
    auto key_of = [exact = exact_port](const Entry& e) {
      return Key{e.dst.hi, e.dst.lo, exact ? e.candidate.port_first : std::uint16_t{0}};
    };
    auto same = [](const Key& a, const Key& b) { return a.hi == b.hi && a.lo == b.lo && a.port == b.port; };
    // Equal keys become neighbours, each key's entries forming one run (sorted by rule below).
    std::sort(members.begin(), members.end(), [&key_of](const Entry& a, const Entry& b) {
      const Key x = key_of(a);
      const Key y = key_of(b);
      return std::tie(x.hi, x.lo, x.port) < std::tie(y.hi, y.lo, y.port);
    });
    std::vector<std::pair<Key, std::vector<Candidate>>> keyed;
    std::uint32_t min_rule = kNoRule;
    std::uint8_t combos = 0;
    for (const Entry& e : members) {
      const Key k = key_of(e);
      if (keyed.empty() || !same(keyed.back().first, k)) keyed.push_back({k, {}});
      keyed.back().second.push_back(e.candidate);
      min_rule = std::min(min_rule, e.candidate.rule);
      combos |= accepted_combos(e.candidate);
    }

    const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(2, keyed.size() * 2));  // load <= 1/2
    const std::size_t bloom_bits = std::bit_ceil(std::max<std::size_t>(64, keyed.size() * kBloomBitsPerKey));
    g.slot_mask = capacity - 1;
    g.slot_shift = static_cast<std::uint8_t>(64 - std::countr_zero(capacity));
    g.bloom_shift = static_cast<std::uint8_t>(64 - std::countr_zero(bloom_bits));
    g.slot_offset = static_cast<std::uint32_t>(slots_.size());
    g.bloom_offset = static_cast<std::uint32_t>(bloom_.size());
    slots_.resize(slots_.size() + capacity);
    bloom_.resize(bloom_.size() + bloom_bits / 64);

    for (auto& [key, run] : keyed) {
      std::sort(run.begin(), run.end(), [](const Candidate& a, const Candidate& b) { return a.rule < b.rule; });
      const std::uint64_t h = hash(key);
      const std::uint64_t bit = h >> g.bloom_shift;
      bloom_[g.bloom_offset + (bit >> 6)] |= std::uint64_t{1} << (bit & 63);
      Slot* table = slots_.data() + g.slot_offset;
      std::uint64_t s = h >> g.slot_shift;
      while (table[s].run != CandidateRuns::kEmpty) s = (s + 1) & g.slot_mask;
      table[s] = Slot{key.hi, key.lo, runs.add(run, exact_port), key.port};
    }
    groups_.push_back(g);
    info_.push_back(GroupInfo{family, length, exact_port, min_rule, combos});
  }
}

}  // namespace dmm::compiled
