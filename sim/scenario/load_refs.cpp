// Name references between sections: a message for an unknown name lists the names that do exist.
#include <algorithm>

#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {

int read_node_ref(const Field& f, const Scenario& s) {
  const std::string name = read_text(f);
  const int index = s.node_index(name);
  if (index < 0) f.fail("unknown node '" + name + "' (nodes: " + join_names(s.nodes) + ")");
  return index;
}

const LinkSpec& read_link_ref(const Field& f, const Scenario& s) {
  const std::string name = read_text(f);
  if (const LinkSpec* link = s.find_link(name)) return *link;
  std::vector<std::string> names;
  for (const auto& l : s.links) names.push_back(l.name);
  f.fail("unknown link '" + name + "' (links: " + join_names(names) + ")");
}

std::string read_stack_ref(const Field& f, const Scenario& s) {
  const std::string name = read_text(f);
  std::vector<std::string> names;
  for (const auto& stack : s.stacks) {
    if (stack.name == name) return name;
    if (std::find(names.begin(), names.end(), stack.name) == names.end()) names.push_back(stack.name);
  }
  f.fail("unknown stack '" + name + "' (stacks: " + join_names(names) + ")");
}

const WorkloadSpec& read_workload_ref(const Field& f, const Scenario& s) {
  const std::string name = read_text(f);
  std::vector<std::string> names;
  for (const auto& w : s.workloads) {
    if (w.name == name) return w;
    names.push_back(w.name);
  }
  f.fail("unknown workload '" + name + "' (workloads: " + join_names(names) + ")");
}

}  // namespace dmm::scenario::detail
