// Policy values: matching one session, checking well-formedness, and the two printed forms
// (policy.jsonl lines for results, `describe` for logs and messages).
#include "dmm/policy.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "dmm/policy_json.hpp"

namespace dmm {
namespace {

Result<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || value < 1 || value > 65535)
    return make_error(EINVAL, "invalid port '" + std::string(text) + "': expected 1 to 65535, or a range such as 8000-8100");
  return static_cast<std::uint16_t>(value);
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::vector<StackId> sorted(std::vector<StackId> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

Error rule_error(std::size_t index, const std::string& what) {
  return make_error(EINVAL, "rule " + std::to_string(index) + ": " + what);
}

Status validate_match(std::size_t index, const Match& m) {
  if (m.dst && m.dst->length > m.dst->address.bit_width())
    return rule_error(index, "prefix length " + std::to_string(m.dst->length) + " out of range 0.." +
                                 std::to_string(m.dst->address.bit_width()));
  if (m.dst && !(mask(m.dst->address, m.dst->length) == m.dst->address))
    return rule_error(index, "prefix " + m.dst->to_string() + " has host bits set");
  if (m.ports && m.ports->first > m.ports->last)
    return rule_error(index, "port range " + std::to_string(m.ports->first) + "-" +
                                 std::to_string(m.ports->last) + " is reversed");
  // Enums only go out of range through casts of external data; a compiled table indexes by them.
  if (m.proto && *m.proto != L4Proto::tcp && *m.proto != L4Proto::udp)
    return rule_error(index, "unknown protocol value");
  if (m.intent && static_cast<unsigned>(*m.intent) > static_cast<unsigned>(Intent::bulk))
    return rule_error(index, "unknown intent value");
  return {};
}

Status validate_race(std::size_t index, const Rule& rule) {
  if (static_cast<unsigned>(rule.race) > static_cast<unsigned>(RaceMode::simultaneous))
    return rule_error(index, "unknown race value");
  if (rule.attempt_delay &&
      (*rule.attempt_delay < kFixedAttemptDelayMin || *rule.attempt_delay > kFixedAttemptDelayMax))
    return rule_error(index, "attempt_delay " + format_duration(*rule.attempt_delay) + " is outside " +
                                 format_duration(kFixedAttemptDelayMin) + ".." + format_duration(kFixedAttemptDelayMax));
  if (rule.attempt_delay && *rule.attempt_delay % std::chrono::milliseconds(1) != Duration::zero())
    return rule_error(index, "attempt_delay " + format_duration(*rule.attempt_delay) + " is not whole milliseconds");
  return {};
}

}  // namespace

std::string_view to_string(RaceMode mode) {
  switch (mode) {
    case RaceMode::staggered: return "staggered";
    case RaceMode::failover: return "failover";
    case RaceMode::simultaneous: return "simultaneous";
  }
  return "?";
}

std::optional<RaceMode> parse_race_mode(std::string_view text) {
  for (RaceMode m : {RaceMode::staggered, RaceMode::failover, RaceMode::simultaneous})
    if (text == to_string(m)) return m;
  return std::nullopt;
}

std::string format_attempt_delay(const AttemptDelay& delay) { return delay ? format_duration(*delay) : "auto"; }

Result<AttemptDelay> parse_attempt_delay(std::string_view text) {
  if (text == "auto") return AttemptDelay{};
  auto d = parse_duration(text);
  if (!d)
    return make_error(EINVAL, "'" + std::string(text) + "': expected `auto` or a duration such as 250ms");
  if (*d < kFixedAttemptDelayMin || *d > kFixedAttemptDelayMax)
    return make_error(EINVAL, "'" + std::string(text) + "' is outside " +
                                  format_duration(kFixedAttemptDelayMin) + ".." +
                                  format_duration(kFixedAttemptDelayMax) + " (RFC 8305: at least 10ms)");
  if (*d % std::chrono::milliseconds(1) != Duration::zero())
    return make_error(EINVAL, "'" + std::string(text) + "': give whole milliseconds (RFC 8305's granularity)");
  return AttemptDelay{*d};
}

Duration resolve_attempt_delay(const AttemptDelay& delay, std::optional<Duration> rtt) {
  if (delay) return *delay;
  if (!rtt || rtt->count() <= 0) return kFallbackAttemptDelay;
  return std::clamp<Duration>(*rtt * kAutoDelayRtts, kMinAttemptDelay, kMaxAttemptDelay);
}

Result<PortRange> PortRange::parse(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto port = parse_port(text);
    if (!port) return port.error();
    return PortRange{*port, *port};
  }
  auto first = parse_port(trim_spaces(text.substr(0, dash)));
  if (!first) return first.error();
  auto last = parse_port(trim_spaces(text.substr(dash + 1)));
  if (!last) return last.error();
  if (*first > *last)
    return make_error(EINVAL, "port range '" + std::string(text) + "' runs backwards (write the lower port first)");
  return PortRange{*first, *last};
}

std::string PortRange::to_string() const {
  if (exact()) return std::to_string(first);
  return std::to_string(first) + "-" + std::to_string(last);
}

bool Match::matches(const SessionRequest& r) const {
  if (dst && !dst->contains(r.dst.address)) return false;
  if (ports && !ports->contains(r.dst.port)) return false;
  if (proto && *proto != r.proto) return false;
  if (intent && *intent != r.intent) return false;
  return true;
}

bool same_decisions(const Policy& a, const Policy& b) {
  // `down` is a set: its order carries no meaning, so a reordering must not trigger a publication.
  return a.rules == b.rules && sorted(a.down) == sorted(b.down);
}

Status validate(const Policy& policy, const std::vector<StackId>& known) {
  if (policy.version < 1) return make_error(EINVAL, "policy version must be at least 1");
  const std::unordered_set<std::string_view> known_set(known.begin(), known.end());
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& rule = policy.rules[i];
    if (auto s = validate_match(i, rule.match); !s) return s;
    if (auto s = validate_race(i, rule); !s) return s;
    if (rule.use.empty()) return rule_error(i, "'use' names no stack");
    if (rule.use.size() > kMaxRankedStacks)
      return rule_error(i, "'use' names " + std::to_string(rule.use.size()) + " stacks, at most " +
                               std::to_string(kMaxRankedStacks) + " are allowed");
    for (std::size_t j = 0; j < rule.use.size(); ++j) {
      const StackId& id = rule.use[j];
      if (!known_set.contains(id)) return rule_error(i, "unknown stack '" + id + "'");
      if (std::find(rule.use.begin(), rule.use.begin() + static_cast<std::ptrdiff_t>(j), id) !=
          rule.use.begin() + static_cast<std::ptrdiff_t>(j))
        return rule_error(i, "stack '" + id + "' is listed twice");
    }
  }
  for (const StackId& id : policy.down)
    if (!known_set.contains(id)) return make_error(EINVAL, "down: unknown stack '" + id + "'");
  return {};
}

std::string to_json_line(const Policy& policy) {
  // `replace`: a reason or a stack name with invalid UTF-8 must not throw while writing results.
  return policy_to_json(policy).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string describe(const Match& m) {
  std::string out;
  auto add = [&out](std::string_view key, std::string_view value) {
    if (!out.empty()) out += ' ';
    out.append(key).append("=").append(value);
  };
  if (m.dst) add("dst", m.dst->to_string());
  if (m.ports) add("port", m.ports->to_string());
  if (m.proto) add("proto", to_string(*m.proto));
  if (m.intent) add("intent", to_string(*m.intent));
  return out.empty() ? "*" : out;
}

}  // namespace dmm
