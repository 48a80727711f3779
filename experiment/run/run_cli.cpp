#include "run/run_cli.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "run/analysis_dir.hpp"

extern char** environ;

namespace dmm::sim {

std::optional<std::uint64_t> parse_seed(const std::string& text) {
  errno = 0;
  const unsigned long long seed = std::strtoull(text.c_str(), nullptr, 10);
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || errno == ERANGE)
    return std::nullopt;
  return seed;
}

std::optional<scenario::Scenario> load_scenario_for(const std::string& tool, const std::string& file,
                                                    std::vector<std::string> overrides,
                                                    const std::optional<std::string>& seed_text,
                                                    StackRegistry& registry, bool quiet) {
  scenario::LoadOptions load;
  load.registry = &registry;
  load.overrides = std::move(overrides);
  if (seed_text) {
    const auto seed = parse_seed(*seed_text);
    if (!seed) {
      std::cerr << tool << ": --seed '" << *seed_text << "': expected a non-negative integer\n";
      return std::nullopt;
    }
    load.seed = *seed;
  }
  auto sc = scenario::load_file(file, load);
  if (!sc) {
    std::cerr << sc.error().message << "\n";
    return std::nullopt;
  }
  if (!quiet)
    for (const auto& warning : sc->warnings) std::cerr << tool << ": warning: " << warning << "\n";
  return std::move(*sc);
}

void print_run_table(const std::vector<StackTotals>& stacks, const SessionCounts& counts,
                     std::uint64_t policy_versions, const std::vector<scenario::ExpectationResult>& expectations,
                     const std::filesystem::path& out) {
  // Delivered: bytes that arrived (TCP: acknowledged by the receiver; UDP: datagrams the receiver got), over the
  // whole run. Not what the applications offered.
  std::printf("  %-16s %9s %7s %18s\n", "stack", "sessions", "share", "delivered Mbit/s");
  std::uint64_t bytes_unknown = 0;
  for (const auto& s : stacks) {
    // A stack that carried only command runs delivered an unknown amount, not 0; with some, a lower bound.
    char delivered[32];
    if (s.sessions_bytes_unknown > 0 && s.sessions_bytes_unknown == s.sessions)
      std::snprintf(delivered, sizeof delivered, "unknown*");
    else
      std::snprintf(delivered, sizeof delivered, s.sessions_bytes_unknown > 0 ? "%.3f*" : "%.3f", s.delivered_mbps);
    std::printf("  %-16s %9llu %7.3f %18s\n", s.stack.c_str(), static_cast<unsigned long long>(s.sessions), s.share,
                delivered);
    bytes_unknown += s.sessions_bytes_unknown;
  }
  if (bytes_unknown > 0)
    std::printf("  * not counted: the bytes of %llu command runs (their programs' data path is the kernel's)\n",
                static_cast<unsigned long long>(bytes_unknown));
  std::printf("  sessions: %llu total, %llu completed, %llu failed, %llu unfinished at the end; policy versions: %llu\n",
              static_cast<unsigned long long>(counts.sessions), static_cast<unsigned long long>(counts.completed),
              static_cast<unsigned long long>(counts.failed), static_cast<unsigned long long>(counts.unfinished),
              static_cast<unsigned long long>(policy_versions));
  std::size_t passed = 0;
  for (const auto& e : expectations) passed += e.passed;
  std::printf("  expectations: %zu/%zu passed\n", passed, expectations.size());
  for (const auto& e : expectations) {
    std::printf("    %s  %s  -- %s\n", e.passed ? "PASS" : "FAIL", e.text.c_str(), e.detail.c_str());
  }
  std::printf("  results: %s\n", out.string().c_str());
}

void print_failed_expectations(const std::vector<scenario::ExpectationResult>& expectations) {
  for (const auto& e : expectations) {
    if (!e.passed) std::cerr << "expectation failed: " << e.text << " -- " << e.detail << "\n";
  }
}

int run_plot(const std::string& tool, const std::filesystem::path& results) {
  std::string tried;
  const auto analysis = tools::find_analysis_dir(tried);
  if (!analysis) {
    std::cerr << tool << ": cannot find analysis/plot_run.py (looked in " << tried
              << "); set DMM_ANALYSIS_DIR to the directory that holds it\n";
    return -1;
  }
  const std::string script = (*analysis / "plot_run.py").string();
  std::string python = "/usr/bin/python3", dir = results.string();
  char* argv[] = {python.data(), const_cast<char*>(script.c_str()), dir.data(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, python.c_str(), nullptr, nullptr, argv, environ) != 0) {
    std::cerr << tool << ": cannot start " << python << " for plotting\n";
    return -1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace dmm::sim
