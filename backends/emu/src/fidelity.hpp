#pragma once
// How faithful an emulated run was (emu.json): the emulator's lateness behind the wall clock (which every
// packet's delay gains on top of the link's), each link direction's realised loss against the configured one,
// its load, and the machine's idle CPU during the run. A run whose emulator fell behind is invalid, and says why.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/link_emulation_spec.hpp"
#include "scenario/scenario.hpp"

namespace dmm::emu {

// The rule for "fell behind": the 99th percentile of the emulator's lateness must stay within a fifth of the
// smallest configured one-way delay, with at least 2 ms of slack. Measured on this 2-core machine, quickstart
// (100 + 20 Mbit/s, one bulk transfer and 50 RPC/s) runs at p50 0.09 ms, p99 about 1 ms, max 7 ms: the host's
// own scheduling noise, which a stricter rule would call a failure of the emulator.
double lateness_limit_s(const scenario::Scenario& sc);

struct Fidelity {
  nlohmann::ordered_json json;  // emu.json
  bool valid = true;
  std::vector<std::string> invalid_because;
};

// `cpu_idle` is the machine's idle share over the run (from /proc/stat), negative when unknown.
Fidelity assess_fidelity(const scenario::Scenario& sc, const EmulatorStats& stats, double cpu_idle,
                         const std::vector<std::string>& notes);

// Wilson score interval for `k` successes in `n` trials, 95 %.
std::pair<double, double> wilson_interval(std::uint64_t k, std::uint64_t n);

// CPU time counters from /proc/stat (all CPUs): idle and total, in ticks.
struct CpuTicks {
  std::uint64_t idle = 0, total = 0;
};
CpuTicks read_cpu_ticks();

}  // namespace dmm::emu
