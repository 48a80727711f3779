// Name references between sections: a message for an unknown name lists the names that do exist.
#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {

int read_node_ref(const Field& f, const LoadContext& ctx) {
  const std::string name = read_text(f);
  const auto it = ctx.names.nodes.find(name);
  if (it == ctx.names.nodes.end()) f.fail("unknown node '" + name + "' (nodes: " + join_names(ctx.scenario.nodes) + ")");
  return it->second;
}

const LinkSpec& read_link_ref(const Field& f, const LoadContext& ctx) {
  const std::string name = read_text(f);
  const auto it = ctx.names.links.find(name);
  if (it != ctx.names.links.end()) return ctx.scenario.links[it->second];
  std::vector<std::string> names;
  for (const auto& link : ctx.scenario.links) names.push_back(link.name);  // only on failure: once
  f.fail("unknown link '" + name + "' (links: " + join_names(names) + ")");
}

std::string read_stack_ref(const Field& f, const LoadContext& ctx) {
  std::string name = read_text(f);
  if (ctx.names.stacks.count(name)) return name;
  f.fail("unknown stack '" + name + "' (stacks: " + join_names(ctx.names.stack_names) + ")");
}

const WorkloadSpec& read_workload_ref(const Field& f, const LoadContext& ctx) {
  const std::string name = read_text(f);
  const auto it = ctx.names.workloads.find(name);
  if (it != ctx.names.workloads.end()) return ctx.scenario.workloads[it->second];
  std::vector<std::string> names;
  for (const auto& w : ctx.scenario.workloads) names.push_back(w.name);  // only on failure: once
  f.fail("unknown workload '" + name + "' (workloads: " + join_names(names) + ")");
}

}  // namespace dmm::scenario::detail
