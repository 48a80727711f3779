#pragma once
// How faithful an emulated run was (emu.json): the emulator's lateness behind the wall clock (which every
// packet's delay gains on top of the link's), each link direction's realised loss against the configured one,
// its load and rate error, the emulator's CPU per Mbit/s carried, and the machine's idle CPU during the run. A run whose emulator fell behind is invalid, and says why.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/link_emulation_spec.hpp"
#include "scenario/scenario.hpp"

namespace dmm::emu {

// The rule for "fell behind", on the emulator's lateness behind the wall clock (which every packet's delay gains):
// its median within max(1 ms, a tenth of the smallest configured one-way delay) — a systematic shift of every
// delay — and its 99th percentile within max(5 ms, half of that delay) — the tail. Measured on this 2-core machine
// with the shipped scenarios: median 0.09 ms, p99 1-3 ms, max 7 ms (the host's own scheduling noise); an
// overloaded emulator falls behind by tens to hundreds of milliseconds, which both limits catch.
double lateness_median_limit_s(const scenario::Scenario& sc);
double lateness_limit_s(const scenario::Scenario& sc);

struct Fidelity {
  nlohmann::ordered_json json;  // emu.json
  bool valid = true;
  std::vector<std::string> invalid_because;
};

// `cpu_idle` is the machine's idle share over the run (from /proc/stat), negative when unknown.
Fidelity assess_fidelity(const scenario::Scenario& sc, const EmulatorStats& stats, double cpu_idle,
                         const std::vector<std::string>& notes);

// The rate error of a link direction while ns-3 sent at its full rate: wall-clock rate / configured rate - 1
// (negative: the emulator stretched the deliveries); none when the direction never saturated.
std::optional<double> rate_error(const DirectionStats& d);

// Rate fidelity limit: a direction whose saturated deliveries ran more than this much slower on the wall clock
// than in ns-3 makes the run invalid (the hosts saw a slower link than the scenario's).
inline constexpr double kRateErrorLimit = 0.05;

// Wilson score interval for `k` successes in `n` trials, 95 %.
std::pair<double, double> wilson_interval(std::uint64_t k, std::uint64_t n);

// CPU time counters from /proc/stat (all CPUs): idle and total, in ticks.
struct CpuTicks {
  std::uint64_t idle = 0, total = 0;
};
CpuTicks read_cpu_ticks();

}  // namespace dmm::emu
