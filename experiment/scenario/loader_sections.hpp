#pragma once
// Internal to the loader: one function per top-level section of a scenario, called in dependency order
// (topology before stacks, stacks before policy, ...) so each can check its references against what is
// already typed. Every function throws yaml::Failure (see field.hpp) on the first problem.
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "scenario/field.hpp"
#include "scenario/scenario.hpp"

namespace dmm::scenario::detail {

// Names typed so far, hashed: a hostile file near the size limit may hold 10^5 names and as many references,
// and a linear search per reference would turn that into a hang.
struct NameIndex {
  std::unordered_map<std::string, int> nodes;                 // -> index in Scenario::nodes
  std::unordered_map<std::string, std::size_t> links;         // -> index in Scenario::links
  std::unordered_map<std::string, int> stack_lines;           // `node/name` -> line of its first definition
  std::unordered_set<std::string> stacks;                     // instance names
  std::vector<std::string> stack_names;                       // the same, in file order, for messages
  std::unordered_set<std::string> nodes_with_stacks;
  std::unordered_map<std::string, std::size_t> workloads;     // -> index in Scenario::workloads
  std::unordered_map<std::string, std::size_t> stack_instances;  // `node/name` -> index in Scenario::stacks
};

struct LoadContext {
  const LoadOptions& options;
  Scenario& scenario;
  std::string base_dir;  // the scenario file's directory: `plugins:` paths are relative to it
  NameIndex names;
};

void load_topology(const MapReader& top, LoadContext& ctx);
void load_plugins(const MapReader& top, LoadContext& ctx);
void load_stacks(const MapReader& top, LoadContext& ctx);
void load_nrd(const MapReader& top, LoadContext& ctx);
void load_nsocket(const MapReader& top, LoadContext& ctx);
void load_policy(const MapReader& top, LoadContext& ctx);
void load_workloads(const MapReader& top, LoadContext& ctx);
void load_events(const MapReader& top, LoadContext& ctx);
void load_expect(const MapReader& top, LoadContext& ctx);

// Checks that need the whole scenario, after the sections: refuse what the simulator cannot carry (each workload
// must reach its destination through a stack its policy rule ranks: sim routes one hop) ...
void check_routes(const std::vector<Field>& workload_fields, LoadContext& ctx);
// ... and refuse or warn about a run too large to finish (see check_size.cpp for the rule).
void check_size(const std::vector<Field>& workload_fields, LoadContext& ctx);

// References between sections. Each fails at `f` naming what exists when the name is unknown.
int read_node_ref(const Field& f, const LoadContext& ctx);            // a node's index
const LinkSpec& read_link_ref(const Field& f, const LoadContext& ctx);
std::string read_stack_ref(const Field& f, const LoadContext& ctx);   // a stack instance name
const WorkloadSpec& read_workload_ref(const Field& f, const LoadContext& ctx);

}  // namespace dmm::scenario::detail
