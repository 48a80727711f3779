// `policy:` — the initial policy (version 1): ordered rules, each a match and a ranked list of stacks.
#include <algorithm>
#include <charconv>

#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

IpPrefix read_dst(const Field& f, const LoadContext& ctx, std::string& text) {
  text = read_text(f);
  const auto node = ctx.names.nodes.find(text);
  if (node != ctx.names.nodes.end()) return IpPrefix::host(node_address(node->second));
  auto prefix = IpPrefix::parse(text);
  if (!prefix)
    f.fail("'" + text + "' is neither a node (" + join_names(ctx.scenario.nodes) + ") nor an IP prefix: " +
           prefix.error().message);
  return *prefix;
}

Match read_match(const Field& f, const LoadContext& ctx, RuleSpec& spec) {
  const MapReader m(f, "a match");
  m.allow({"dst", "port", "proto", "intent"});
  Match match;
  if (auto d = m.get("dst")) {
    std::string text;
    match.dst = read_dst(*d, ctx, text);
    spec.dst_text = std::move(text);
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
  if (!f->is_sequence()) f.fail("expected a list of stacks in order of preference, got " + yaml::describe(*f));
  const auto items = f.items();
  if (items.empty()) f.fail("a rule must name at least one stack");
  if (items.size() > kMaxRankedStacks)
    f.fail("a rule may rank at most " + std::to_string(kMaxRankedStacks) + " stacks");
  std::vector<StackId> use;
  for (const Field& item : items) {
    std::string name = read_stack_ref(item, ctx);
    if (std::find(use.begin(), use.end(), name) != use.end()) item.fail("stack '" + name + "' is listed twice");
    use.push_back(std::move(name));
  }
  return use;
}

}  // namespace

void load_policy(const MapReader& top, LoadContext& ctx) {
  const Field policy = top.require("policy");
  const auto items = policy.items();
  if (items.empty()) policy.fail("the policy needs at least one rule, e.g. {match: {}, use: [STACK]}");
  for (const Field& item : items) {
    const MapReader m(item, "a policy rule ({match: {...}, use: [...]})");
    m.allow({"match", "use", "race", "attempt_delay"});
    RuleSpec spec;
    spec.mark = Mark{item->where.line, item->where.column};
    spec.rule.match = read_match(m.require("match"), ctx, spec);
    spec.rule.use = read_use(m.require("use"), ctx);
    read_race(m, spec.rule);
    ctx.scenario.policy.push_back(std::move(spec));
  }
}

}  // namespace dmm::scenario::detail
