#pragma once
// A scenario run in ns-3: the public face of libdmm_sim. No ns-3 types here, so tools, tests and the Python
// bindings include it without paying for ns-3's headers.
#include <filesystem>
#include <functional>
#include <memory>

#include "dmm/result.hpp"
#include "dmm/stack_registry.hpp"
#include "run/recorder.hpp"
#include "run/run_monitor.hpp"
#include "scenario/results.hpp"
#include "scenario/scenario.hpp"

namespace dmm::sim {

struct RunOptions {
  std::filesystem::path out_dir;  // results directory (created)
  // Called every 1 % of simulated time with the simulated seconds so far (progress lines live in the tool).
  std::function<void(double sim_seconds)> on_progress;
  // Wall-clock seconds since the run started, measured by the caller: the core and the simulation never read
  // the wall clock themselves. Null = timing not reported.
  std::function<double()> wall_seconds;
  // Where and when the run was started (summary.json `invocation`, volatile like timing). Null = not recorded.
  std::optional<Invocation> invocation;
  // Watched from another thread (progress, Ctrl-C): the run reports every event to it and, once its `stop` is
  // set, ends early and writes what it has, marked as partial. Null = not watched.
  RunMonitor* monitor = nullptr;
};

struct RunReport {
  std::vector<scenario::SessionRecord> sessions_table;  // every session, as in sessions.csv
  std::vector<scenario::ExpectationResult> expectations;
  std::vector<StackTotals> stacks;
  std::uint64_t sessions = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t unfinished = 0;  // still open when the run ended
  std::uint64_t policy_versions = 0;
  RunTiming timing;
  bool interrupted() const { return timing.interrupted_at_s.has_value(); }
  bool all_passed() const;
};

// Registers the kinds a simulation models with ns-3 (`kernel`, `lwip-dpdk`, `ns3`) into `registry`.
// Each accepts the parameters the simulation fills in itself (node, link, tcp, processing_delay).
void register_sim_stack_kinds(StackRegistry& registry);

// The stack parameters that the simulation supplies itself; a scenario must not set these keys.
const std::vector<std::string>& sim_stack_params();

class Simulation {
public:
  // Builds the ns-3 world for `scenario` (which must outlive the Simulation). Errors here are scenario errors
  // that need the world to detect (e.g. a plug-in factory refusing its parameters): EINVAL.
  // With `pcap_dir`, every link writes pcap traces there. `algorithms` makes nRD's algorithm: pass the registry
  // the scenario was loaded with (e.g. one with Python-defined algorithms); null = the built-ins. Only one
  // Simulation may exist at a time (ns-3's simulator is process-wide); one after another in a process give the
  // same results for the same scenario and seed.
  static Result<std::unique_ptr<Simulation>> create(const scenario::Scenario& scenario, StackRegistry& registry,
                                                    std::optional<std::filesystem::path> pcap_dir = std::nullopt,
                                                    const AlgorithmRegistry* algorithms = nullptr);
  ~Simulation();
  // Runs to the scenario's end, checks expectations and writes the results directory. Runs once.
  Result<RunReport> run(const RunOptions& options);
  // Ends the run early as a runtime failure. Meant for code that runs inside the simulation but cannot report
  // through a Result (e.g. a policy algorithm written in Python that raised): the simulation stops after the
  // current event and run() returns `why` without writing results. The first reason given wins.
  void stop(Error why);

  class World;

private:
  explicit Simulation(std::unique_ptr<World> world);
  std::unique_ptr<World> world_;
};

}  // namespace dmm::sim
