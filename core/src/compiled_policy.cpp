#include "compiled_policy.hpp"

#include <algorithm>
#include <bit>
#include <map>
#include <stdexcept>
#include <tuple>

namespace dmm {
namespace {

std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Big-endian words, so that masking a prefix length is masking the high bits.
void split_address(const IpAddress& a, std::uint64_t& hi, std::uint64_t& lo) {
  if (a.family == IpFamily::v4) {
    hi = 0;
    lo = (std::uint64_t{a.bytes[0]} << 24) | (std::uint64_t{a.bytes[1]} << 16) | (std::uint64_t{a.bytes[2]} << 8) |
         std::uint64_t{a.bytes[3]};
  } else {
    hi = load_be64(a.bytes.data());
    lo = load_be64(a.bytes.data() + 8);
  }
}

std::uint64_t high_bits(unsigned n) { return n == 0 ? 0 : ~std::uint64_t{0} << (64 - n); }

std::uint8_t combo_bit(unsigned proto, unsigned intent) { return static_cast<std::uint8_t>(1u << (proto * 4 + intent)); }

// Every (proto, intent) pair a match accepts; lets a lookup skip groups that cannot fit the request at all.
std::uint8_t combos_of(const Match& m) {
  std::uint8_t bits = 0;
  for (unsigned p = 0; p < 2; ++p) {
    if (m.proto && static_cast<unsigned>(*m.proto) != p) continue;
    for (unsigned i = 0; i < 4; ++i) {
      if (m.intent && static_cast<unsigned>(*m.intent) != i) continue;
      bits |= combo_bit(p, i);
    }
  }
  return bits;
}

}  // namespace

std::uint64_t CompiledPolicy::hash(const Key& k) {
  // Murmur3's 64-bit finalizer over the folded key: masked addresses have long runs of zero low bits,
  // which a plain multiplicative hash would map to few slots.
  std::uint64_t x = k.lo ^ std::rotl(k.hi * 0x9E3779B97F4A7C15ull, 32) ^ (std::uint64_t{k.port} * 0xC2B2AE3D27D4EB4Full);
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return x;
}

CompiledPolicy::CompiledPolicy(const Policy& policy, const std::vector<StackId>& stacks)
    : version_(policy.version), down_(stacks.size(), 0) {
  std::unordered_map<std::string_view, StackIndex> index;
  for (std::size_t i = 0; i < stacks.size(); ++i) index.emplace(stacks[i], static_cast<StackIndex>(i));
  auto index_of = [&index](const StackId& id) {
    const auto it = index.find(id);
    if (it == index.end()) throw std::invalid_argument("policy names unknown stack '" + id + "'");
    return it->second;
  };

  rule_stacks_.reserve(policy.rules.size());
  for (const Rule& rule : policy.rules) {
    rule_stacks_.push_back({static_cast<std::uint32_t>(stack_pool_.size()), static_cast<std::uint8_t>(rule.use.size())});
    for (const StackId& id : rule.use) stack_pool_.push_back(index_of(id));
  }
  for (const StackId& id : policy.down) down_[index_of(id)] = 1;
  build_groups(policy);
}

void CompiledPolicy::build_groups(const Policy& policy) {
  struct Entry {
    Key key;
    Candidate candidate;
  };
  // Group shape -> entries in rule order.
  std::map<std::tuple<Family, std::uint8_t, bool>, std::vector<Entry>> shapes;

  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const Match& m = policy.rules[i].match;
    const Family family = !m.dst ? Family::any : m.dst->address.family == IpFamily::v4 ? Family::v4 : Family::v6;
    const std::uint8_t length = m.dst ? m.dst->length : 0;
    const bool exact_port = m.ports && m.ports->exact();
    Entry e{};
    if (m.dst) split_address(m.dst->address, e.key.hi, e.key.lo);
    if (exact_port) e.key.port = m.ports->first;
    e.candidate.rule = static_cast<std::uint32_t>(i);
    e.candidate.port_first = m.ports ? m.ports->first : 0;
    e.candidate.port_last = m.ports ? m.ports->last : 65535;
    e.candidate.proto = m.proto ? static_cast<std::uint8_t>(*m.proto) : kAny;
    e.candidate.intent = m.intent ? static_cast<std::uint8_t>(*m.intent) : kAny;
    shapes[{family, length, exact_port}].push_back(e);
  }

  for (auto& [shape, entries] : shapes) {
    const auto [family, length, exact_port] = shape;
    Group g{};
    g.family = family;
    g.length = length;
    g.exact_port = exact_port;
    if (family == Family::v4) {
      g.mask_lo = high_bits(length) >> 32;  // IPv4 sits in the low 32 bits of `lo`
    } else if (family == Family::v6) {
      g.mask_hi = high_bits(std::min<unsigned>(length, 64));
      g.mask_lo = high_bits(length > 64 ? length - 64u : 0u);
    }
    for (const Entry& e : entries) g.combos |= combos_of(policy.rules[e.candidate.rule].match);
    g.min_rule = entries.front().candidate.rule;

    // Equal keys become one candidate run; the stable sort keeps each run in ascending rule order.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return std::tie(a.key.hi, a.key.lo, a.key.port) < std::tie(b.key.hi, b.key.lo, b.key.port);
    });
    std::size_t distinct = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) distinct += (i == 0 || !(entries[i].key == entries[i - 1].key));
    const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(2, distinct * 2));  // load <= 1/2
    g.slot_mask = capacity - 1;
    g.slot_offset = static_cast<std::uint32_t>(slots_.size());
    slots_.resize(slots_.size() + capacity);
    Slot* table = slots_.data() + g.slot_offset;

    for (std::size_t i = 0; i < entries.size();) {
      std::size_t end = i;
      const auto offset = static_cast<std::uint32_t>(candidates_.size());
      while (end < entries.size() && entries[end].key == entries[i].key) candidates_.push_back(entries[end++].candidate);
      std::size_t s = hash(entries[i].key) & g.slot_mask;
      while (table[s].min_rule != kNoRule) s = (s + 1) & g.slot_mask;
      table[s] = Slot{entries[i].key, entries[i].candidate.rule, offset, static_cast<std::uint32_t>(end - i)};
      i = end;
    }
    groups_.push_back(g);
  }
  // Visiting groups by their best rule lets first_match stop at the first group that cannot win.
  std::sort(groups_.begin(), groups_.end(), [](const Group& a, const Group& b) { return a.min_rule < b.min_rule; });
}

const CompiledPolicy::Slot* CompiledPolicy::find(const Group& g, const Key& k) const {
  const Slot* table = slots_.data() + g.slot_offset;
  for (std::size_t s = hash(k) & g.slot_mask;; s = (s + 1) & g.slot_mask) {
    const Slot& slot = table[s];
    if (slot.min_rule == kNoRule) return nullptr;  // load <= 1/2 guarantees an empty slot ends the probe
    if (slot.key == k) return &slot;
  }
}

std::uint32_t CompiledPolicy::first_match(const SessionRequest& r) const {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  split_address(r.dst.address, hi, lo);
  const Family family = r.dst.address.family == IpFamily::v4 ? Family::v4 : Family::v6;
  const std::uint8_t combo = combo_bit(static_cast<unsigned>(r.proto), static_cast<unsigned>(r.intent));
  const std::uint16_t port = r.dst.port;
  const auto proto = static_cast<std::uint8_t>(r.proto);
  const auto intent = static_cast<std::uint8_t>(r.intent);

  std::uint32_t best = kNoRule;
  for (const Group& g : groups_) {
    if (g.min_rule >= best) break;  // groups are ordered by min_rule: none of the rest can win either
    if (g.family != Family::any && g.family != family) continue;
    if ((g.combos & combo) == 0) continue;
    const Key key{hi & g.mask_hi, lo & g.mask_lo, g.exact_port ? port : std::uint16_t{0}};
    const Slot* slot = find(g, key);
    if (slot == nullptr || slot->min_rule >= best) continue;
    const Candidate* c = candidates_.data() + slot->offset;
    const Candidate* end = c + slot->count;
    for (; c != end && c->rule < best; ++c) {
      if (port < c->port_first || port > c->port_last) continue;
      if (c->proto != kAny && c->proto != proto) continue;
      if (c->intent != kAny && c->intent != intent) continue;
      best = c->rule;  // candidates ascend: the first fit is this group's best
      break;
    }
  }
  return best;
}

}  // namespace dmm
