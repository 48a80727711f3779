#include "ctl_print.hpp"

#include <cstdio>
#include <string>

namespace dmm::nrd::ctl {
namespace {

using Json = nlohmann::json;

const Json& at(const Json& o, const char* key) {
  static const Json kNull;
  if (!o.is_object()) return kNull;
  const auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}

std::string text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

std::string number(const Json& v, const char* format) {
  if (!v.is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v.get<double>());
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

void print_estimate_row(std::ostream& out, const Json& e) {
  out << "  " << pad(text(at(e, "stack")), 16) << pad(at(e, "healthy") == true ? "healthy" : "DOWN", 9)
      << pad(number(at(e, "rtt_ms"), "%.3f"), 11) << pad(number(at(e, "goodput_mbps"), "%.2f"), 14)
      << pad(number(at(e, "capacity_mbps"), "%.2f"), 15) << pad(number(at(e, "loss"), "%.4f"), 9) << pad(text(at(e, "failures")), 10)
      << number(at(e, "last_sample_age_s"), "%.1f") << "\n";
}

void print_rules(std::ostream& out, const Json& policy) {
  const Json& rules = at(policy, "rules");
  if (!rules.is_array()) return;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    std::string match;
    const Json& m = at(rules[i], "match");
    if (m.is_object())
      for (const auto& [k, v] : m.items()) match += (match.empty() ? "" : " ") + k + "=" + text(v);
    std::string use;
    const Json& u = at(rules[i], "use");
    if (u.is_array())
      for (const auto& s : u) use += (use.empty() ? "" : ", ") + text(s);
    out << "  " << i << ": " << (match.empty() ? "*" : match) << " -> [" << use << "]";
    // How the stacks are raced, when the rule says (a policy from before racing has no such keys).
    const Json& race = at(rules[i], "race");
    const Json& delay = at(rules[i], "attempt_delay");
    if (race.is_string()) out << " race=" << text(race);
    if (delay.is_string()) out << " attempt_delay=" << text(delay);
    out << "\n";
  }
}

}  // namespace

void print_status(std::ostream& out, const Json& status) {
  const Json& policy = at(status, "policy");
  out << "dmm-nrd: up " << number(at(status, "uptime_s"), "%.1f") << " s, algorithm " << text(at(status, "algorithm"))
      << ", period " << number(at(status, "period_s"), "%.3f") << " s, " << text(at(status, "periods"))
      << " periods\n";
  out << "policy version " << text(at(policy, "version")) << " (" << text(at(policy, "reason")) << ")";
  const Json& down = at(policy, "down");
  if (down.is_array() && !down.empty()) out << ", down: " << down.dump();
  out << "\n";
  print_rules(out, policy);
  out << "stacks:\n  " << pad("stack", 16) << pad("health", 9) << pad("rtt_ms", 11) << pad("goodput_mbps", 14)
      << pad("capacity_mbps", 15) << pad("loss", 9) << pad("failures", 10) << "last_sample_s_ago\n";
  const Json& stacks = at(status, "stacks");
  if (stacks.is_array())
    for (const auto& e : stacks) print_estimate_row(out, e);
  const Json& peers = at(status, "peers");
  out << "peers: " << (peers.is_array() ? peers.size() : 0) << " (" << text(at(status, "subscribers"))
      << " subscribed)\n";
  if (peers.is_array())
    for (const auto& p : peers)
      out << "  #" << text(at(p, "id")) << " " << pad(text(at(p, "role")), 13) << pad(text(at(p, "peer")), 34)
          << "name=" << text(at(p, "name")) << " version=" << text(at(p, "version"))
          << (at(p, "subscribed") == true ? " subscribed" : "") << (at(p, "watching") == true ? " watching" : "")
          << " samples=" << text(at(p, "samples")) << "\n";
  out << "counters: " << at(status, "counters").dump() << "\n";
}

void print_decision(std::ostream& out, const Json& d) {
  out << "period " << text(at(d, "period")) << " t=" << number(at(d, "time_s"), "%.3f") << "s version "
      << text(at(d, "version"));
  if (at(d, "published") == true) out << " PUBLISHED (" << text(at(d, "reason")) << ")";
  const Json& estimates = at(d, "estimates");
  if (estimates.is_array())
    for (const auto& e : estimates)
      out << " | " << text(at(e, "stack")) << (at(e, "healthy") == true ? "" : " DOWN")
          << " rtt=" << number(at(e, "rtt_ms"), "%.3f") << "ms";
  out << "\n";
}

}  // namespace dmm::nrd::ctl
