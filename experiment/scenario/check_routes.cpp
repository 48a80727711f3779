// Workloads the simulator cannot carry are refused at load time (issue 12): in simulation a stack reaches exactly
// the node at the other end of its own link, with no routing beyond it, so client -> router -> server fails
// every session. Each workload's sessions are matched against the initial policy the way the orchestrator will
// match them; if no stack its rule ranks can reach the destination from the workload's node, the run could only
// fail, and says so before it starts.
#include <memory>

#include "dmm/orchestrator.hpp"
#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

// Why one ranked stack cannot carry sessions from `from` to `to` (empty: it can, or it may — a plug-in kind with
// no link of its own is not the simulator's to judge).
std::string why_not(const std::string& stack, const WorkloadSpec& w, const LoadContext& ctx) {
  const auto it = ctx.names.stack_instances.find(w.from + "/" + stack);
  if (it == ctx.names.stack_instances.end()) return stack + " (no instance on " + w.from + ")";
  const StackSpec& spec = ctx.scenario.stacks[it->second];
  if (spec.link.empty()) return {};
  const LinkSpec& link = *ctx.scenario.find_link(spec.link);
  const std::string& peer = link.a == w.from ? link.b : link.a;
  if (peer == w.to) return {};
  return stack + " (link " + link.name + " ends at " + peer + ")";
}

}  // namespace

void check_routes(const std::vector<Field>& workload_fields, LoadContext& ctx) {
  const Scenario& s = ctx.scenario;
  std::vector<StackId> names(ctx.names.stack_names.begin(), ctx.names.stack_names.end());
  Policy initial;
  for (const auto& r : s.policy) initial.rules.push_back(r.rule);
  // The orchestrator's own matching (and its index: a file may hold 10^5 rules and as many workloads).
  std::unique_ptr<Orchestrator> orchestrator;
  try {
    orchestrator = std::make_unique<Orchestrator>(names, initial);
  } catch (const std::invalid_argument&) {
    return;  // a policy the simulator itself refuses later, with its own message
  }
  for (std::size_t i = 0; i < s.workloads.size(); ++i) {
    const WorkloadSpec& w = s.workloads[i];
    const MapReader m(workload_fields[i], "a workload");
    const SessionRequest request{.dst = {node_address(s.node_index(w.to)), w.port}, .proto = w.proto,
                                 .intent = w.intent};
    const auto choice = orchestrator->select(request);
    if (!choice)
      m.field().fail("no policy rule matches this workload's sessions (to " + w.to + " port " +
                     std::to_string(w.port) + "/" + std::string(to_string(w.proto)) + ", intent " +
                     std::string(to_string(w.intent)) + "): every one of them would fail");
    const RuleSpec& rule = s.policy[static_cast<std::size_t>(choice->rule)];
    std::vector<std::string> reasons;
    bool reachable = false;
    for (const StackId& stack : rule.rule.use) {
      std::string why = why_not(stack, w, ctx);
      if (why.empty()) {
        reachable = true;
        break;
      }
      reasons.push_back(std::move(why));
    }
    if (reachable) continue;
    m.require("to").fail("workload '" + w.name + "' cannot reach '" + w.to + "' from '" + w.from +
                         "': its sessions match policy rule " + std::to_string(choice->rule) + " (line " +
                         std::to_string(rule.mark.line) + "), whose stacks are " + join_names(reasons) +
                         "; the simulator does not route beyond a stack's own link, so give " + w.from +
                         " a stack on a link to " + w.to);
  }
}

}  // namespace dmm::scenario::detail
