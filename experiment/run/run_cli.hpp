#pragma once
// What dmm-sim and dmm-emu say and accept alike: the --seed value, the run's table on stdout, the failed
// expectations on stderr under --quiet, and --plot (analysis/plot_run.py on the results).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "run/recorder.hpp"
#include "run/scenario_run.hpp"
#include "scenario/results.hpp"
#include "scenario/scenario.hpp"

namespace dmm::sim {

// A non-negative integer, or nullopt. Parsed by hand: Boost would wrap `-4` around to a huge unsigned value.
std::optional<std::uint64_t> parse_seed(const std::string& text);

// The scenario a tool was asked to run: `file` with the --set `overrides` and the --seed text applied, checked
// against `registry`'s stack kinds. On bad input the message is printed (a bad seed after `tool: `, a scenario
// error as `FILE:LINE:COL: ...`) and nullopt returned: exit 2. Without `quiet`, the loader's warnings are printed.
std::optional<scenario::Scenario> load_scenario_for(const std::string& tool, const std::string& file,
                                                    std::vector<std::string> overrides,
                                                    const std::optional<std::string>& seed_text,
                                                    StackRegistry& registry, bool quiet);

// The per-stack table (sessions, share, delivered Mbit/s), the session counts and policy versions, each
// expectation with PASS/FAIL, and where the results are.
void print_run_table(const std::vector<StackTotals>& stacks, const SessionCounts& counts,
                     std::uint64_t policy_versions, const std::vector<scenario::ExpectationResult>& expectations,
                     const std::filesystem::path& out);

// Under --quiet, the failed expectations are the only output (stderr).
void print_failed_expectations(const std::vector<scenario::ExpectationResult>& expectations);

// Runs analysis/plot_run.py (found by find_analysis_dir) on `results`; its exit status, or -1 with the reason
// on stderr after `tool: `.
int run_plot(const std::string& tool, const std::filesystem::path& results);

}  // namespace dmm::sim
