// Policy <-> JSON (see policy_json.hpp). Reading walks a parsed value with the json_reader's checked reads: the
// value comes from another process or a person, so nothing here may throw past the boundary or trust a field.
#include "dmm/policy_json.hpp"

#include "dmm/json_reader.hpp"

namespace dmm {
namespace {

using json::ObjectReader;
using json::Value;

Match match_at(const Value& v, const std::string& path) {
  const ObjectReader m(v, path);
  m.only({"dst", "port", "proto", "intent"});
  Match match;
  if (const Value* dst = m.get("dst")) {
    auto prefix = IpPrefix::parse(json::read_text(*dst, m.path_of("dst"), 64));
    if (!prefix) json::fail(m.path_of("dst"), prefix.error().message);
    match.dst = *prefix;
  }
  if (const Value* port = m.get("port")) {
    // Written as text ("80", "8000-8100") by policy_to_json; a bare number is what a person writes.
    const std::string text = port->is_number() ? std::to_string(json::read_uint(*port, m.path_of("port"), 65535))
                                                         : json::read_text(*port, m.path_of("port"), 32);
    auto range = PortRange::parse(text);
    if (!range) json::fail(m.path_of("port"), range.error().message);
    match.ports = *range;
  }
  if (const Value* proto = m.get("proto")) {
    const std::string text = json::read_text(*proto, m.path_of("proto"), 16);
    match.proto = parse_l4proto(text);
    if (!match.proto) json::fail(m.path_of("proto"), "unknown protocol '" + text + "' (tcp, udp)");
  }
  if (const Value* intent = m.get("intent")) {
    const std::string text = json::read_text(*intent, m.path_of("intent"), 16);
    match.intent = parse_intent(text);
    if (!match.intent)
      json::fail(m.path_of("intent"), "unknown intent '" + text + "' (default, latency, throughput, bulk)");
  }
  return match;
}

Policy policy_at(const Value& v, const PolicyJsonLimits& limits) {
  const ObjectReader top(v, "policy");
  top.only({"version", "time_s", "reason", "rules", "down"});
  Policy p;
  p.version = json::read_uint(top.require("version"), "version", UINT64_MAX);
  if (p.version < 1) json::fail("version", "a policy version is at least 1");
  // Bounded so that the conversion to nanoseconds cannot overflow (a century is plenty for an uptime).
  if (const Value* time = top.get("time_s")) p.time = from_seconds(json::read_number(*time, "time_s", 0, 3.2e9));
  if (const Value* reason = top.get("reason")) p.reason = json::read_text(*reason, "reason", limits.max_reason_bytes);
  const Value& rules = top.require("rules");
  if (!rules.is_array()) json::fail("rules", "expected a list of rules, got " + json::type_name(rules));
  if (rules.size() > limits.max_rules) json::fail("rules", "more than " + std::to_string(limits.max_rules) + " rules");
  p.rules.reserve(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const ObjectReader rule(rules[i], "rules[" + std::to_string(i) + "]");
    rule.only({"match", "use", "race", "attempt_delay"});
    Rule r;
    if (const Value* match = rule.get("match")) r.match = match_at(*match, rule.path_of("match"));
    r.use = json::read_names(rule.require("use"), rule.path_of("use"), kMaxRankedStacks, limits.max_name_bytes);
    if (r.use.empty()) json::fail(rule.path_of("use"), "a rule must name at least one stack");
    // Absent in policies from before racing existed: the defaults (staggered, auto), as for a scenario's rules.
    if (const Value* race = rule.get("race")) {
      const std::string text = json::read_text(*race, rule.path_of("race"), 16);
      const auto mode = parse_race_mode(text);
      if (!mode) json::fail(rule.path_of("race"), "unknown race '" + text + "' (staggered, failover, simultaneous)");
      r.race = *mode;
    }
    if (const Value* delay = rule.get("attempt_delay")) {
      auto parsed = parse_attempt_delay(json::read_text(*delay, rule.path_of("attempt_delay"), 32));
      if (!parsed) json::fail(rule.path_of("attempt_delay"), parsed.error().message);
      r.attempt_delay = *parsed;
    }
    p.rules.push_back(std::move(r));
  }
  // A down-list longer than any orchestrator's stack table is nonsense; the rule limit bounds it generously.
  if (const Value* down = top.get("down")) p.down = json::read_names(*down, "down", limits.max_rules, limits.max_name_bytes);
  return p;
}

}  // namespace

nlohmann::ordered_json policy_to_json(const Policy& policy) {
  using Ordered = nlohmann::ordered_json;
  Ordered rules = Ordered::array();
  for (const Rule& rule : policy.rules) {
    Ordered match = Ordered::object();
    const Match& m = rule.match;
    if (m.dst) match["dst"] = m.dst->to_string();
    if (m.ports) match["port"] = m.ports->to_string();
    if (m.proto) match["proto"] = std::string(to_string(*m.proto));
    if (m.intent) match["intent"] = std::string(to_string(*m.intent));
    Ordered out{{"match", std::move(match)}, {"use", rule.use}};
    // Only what differs from the defaults (staggered, auto): a rule that races as by default reads exactly as
    // before racing existed, so subscribers of an older version still accept it.
    if (rule.race != RaceMode::staggered) out["race"] = std::string(to_string(rule.race));
    if (rule.attempt_delay) out["attempt_delay"] = format_attempt_delay(rule.attempt_delay);
    rules.push_back(std::move(out));
  }
  return Ordered{{"version", policy.version},
                 {"time_s", to_seconds(policy.time)},
                 {"reason", policy.reason},
                 {"rules", std::move(rules)},
                 {"down", policy.down}};
}

Result<Policy> policy_from_json(const nlohmann::json& value, const PolicyJsonLimits& limits) {
  return json::read_guarded<Policy>("a policy", [&] { return policy_at(value, limits); });
}

Result<Policy> parse_policy_json(std::string_view text, const PolicyJsonLimits& limits) {
  auto value = json::parse(text, "the policy");
  if (!value) return value.error();
  return policy_from_json(*value, limits);
}

}  // namespace dmm
