#pragma once
// Internal to the loader: one function per top-level section of a scenario, called in dependency order
// (topology before stacks, stacks before policy, ...) so each can check its references against what is
// already typed. Every function throws yaml::Failure (see field.hpp) on the first problem.
#include <string>

#include "scenario/field.hpp"
#include "scenario/scenario.hpp"

namespace dmm::scenario::detail {

struct LoadContext {
  const LoadOptions& options;
  Scenario& scenario;
  std::string base_dir;  // the scenario file's directory: `plugins:` paths are relative to it
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

// References between sections. Each fails at `f` naming what exists when the name is unknown.
int read_node_ref(const Field& f, const Scenario& s);                 // a node's index
const LinkSpec& read_link_ref(const Field& f, const Scenario& s);
std::string read_stack_ref(const Field& f, const Scenario& s);        // a stack instance name
const WorkloadSpec& read_workload_ref(const Field& f, const Scenario& s);

}  // namespace dmm::scenario::detail
