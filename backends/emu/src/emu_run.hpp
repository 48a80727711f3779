#pragma once
// A scenario on real stacks (DESIGN.md §2.6): the plan made real, the link emulator started, and the same control
// plane and workloads as dmm-sim (experiment/run) on the epoll executor, in real time. Writes the same results
// directory as dmm-sim, plus emu.json (fidelity.hpp).
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dmm/policy_algorithm.hpp"
#include "dmm/result.hpp"
#include "emu_plan.hpp"
#include "run/recorder.hpp"
#include "scenario/results.hpp"
#include "scenario/scenario.hpp"

namespace dmm::emu {

struct EmuOptions {
  std::filesystem::path out_dir;
  std::string linkemu;  // path of dmm-linkemu
  std::string dmm_run;  // path of dmm-run (for `kind: command` workloads)
  std::optional<sim::Invocation> invocation;
  bool pcap = false;    // every link writes pcap traces into out_dir/pcap/ (the emulator's ns-3 devices)
  // nRD's algorithm from this registry (e.g. one with Python-defined algorithms); null = the built-ins.
  const AlgorithmRegistry* algorithms = nullptr;
  // The registry the scenario was loaded with (its `plugins:` loaded): plug-in kinds are made through it, with the
  // run's other instances to build on. Null: a scenario with a plug-in kind is refused.
  StackRegistry* plugin_kinds = nullptr;
  // Asked every 100 ms of the run: true stops it as a stop signal would (partial results). Python uses it for
  // Ctrl-C and for an algorithm that raised.
  std::function<bool()> should_stop;
};

struct EmuReport {
  std::vector<scenario::ExpectationResult> expectations;
  std::vector<sim::StackTotals> stacks;
  std::uint64_t sessions = 0, completed = 0, failed = 0, unfinished = 0, policy_versions = 0;
  double wall_s = 0;
  std::optional<double> interrupted_at_s;  // Ctrl-C or SIGTERM: partial results were written
  bool valid = true;                       // emu.json's verdict on the run's fidelity
  std::vector<std::string> invalid_because;
  std::vector<std::string> notes;          // how the run differs from the scenario as written
  bool all_passed() const;
};

// Realises `sc` on this machine, runs it for its duration and writes the results. EINVAL for a scenario dmm-emu
// cannot realise (named), EPERM without root, other errors for what failed on the way; everything it made is
// removed before it returns.
Result<EmuReport> run_emulation(const scenario::Scenario& sc, const EmuOptions& options);

}  // namespace dmm::emu
