// `policy:` — the initial policy (version 1): ordered rules, each a match and a ranked list of this host's stacks.
// The same shape as a scenario's policy, except that `dst` is always an IP prefix (a host has no node names).
#include <algorithm>
#include <charconv>

#include "host_sections.hpp"

namespace dmm::host::detail {
namespace {

using scenario::join_names;
using scenario::read_ports;
using scenario::read_text;

Match read_match(const Field& f) {
  const MapReader m(f, "a match");
  m.allow({"dst", "port", "proto", "intent"});
  Match match;
  if (auto d = m.get("dst")) {
    const std::string text = read_text(*d);
    auto prefix = IpPrefix::parse(text);
    if (!prefix) d->fail("'" + text + "' is not an IP prefix (e.g. 10.78.0.0/16, 2001:db8::/32): " +
                         prefix.error().message);
    match.dst = *prefix;
  }
  if (auto p = m.get("port")) match.ports = read_ports(*p);
  if (auto p = m.get("proto")) {
    match.proto = parse_l4proto(read_text(*p));
    if (!match.proto) p->fail("unknown protocol '" + (*p)->text + "' (tcp, udp)");
  }
  if (auto i = m.get("intent")) {
    match.intent = parse_intent(read_text(*i));
    if (!match.intent) i->fail("unknown intent '" + (*i)->text + "' (default, latency, throughput, bulk)");
  }
  return match;
}

std::vector<StackId> read_use(const Field& f, const LoadContext& ctx) {
  if (!f->is_sequence()) f.fail("expected a list of stacks in order of preference, got " + scenario::yaml::describe(*f));
  const auto items = f.items();
  if (items.empty()) f.fail("a rule must name at least one stack");
  if (items.size() > kMaxRankedStacks) f.fail("a rule may rank at most " + std::to_string(kMaxRankedStacks) + " stacks");
  std::vector<StackId> use;
  for (const Field& item : items) {
    if (!item->is_scalar()) item.fail("expected a stack name, got " + scenario::yaml::describe(*item));
    std::string name = item->text;
    if (!ctx.stacks.contains(name))
      item.fail("unknown stack '" + name + "' (stacks: " + join_names(ctx.config.stack_names()) + ")");
    if (std::find(use.begin(), use.end(), name) != use.end()) item.fail("stack '" + name + "' is listed twice");
    use.push_back(std::move(name));
  }
  return use;
}

}  // namespace

void load_policy(const MapReader& top, LoadContext& ctx) {
  const Field policy = top.require("policy");
  const auto items = policy.items();
  if (items.empty()) policy.fail("the policy needs at least one rule, e.g. - {match: {}, use: [STACK]}");
  HostConfig& config = ctx.config;
  config.policy.version = 1;
  config.policy.reason = "host config " + config.file;
  for (const Field& item : items) {
    const MapReader m(item, "a policy rule ({match: {...}, use: [...]})");
    m.allow({"match", "use", "race", "attempt_delay"});
    Rule rule;
    rule.match = read_match(m.require("match"));
    rule.use = read_use(m.require("use"), ctx);
    scenario::read_race(m, rule);
    config.policy.rules.push_back(std::move(rule));
    config.rule_marks.push_back(mark_of(item));
  }
  // The core's own check, so that what the orchestrator will accept is decided here, at load time.
  if (const Status valid = validate(config.policy, config.stack_names()); !valid) policy.fail(valid.error().message);
}

}  // namespace dmm::host::detail
