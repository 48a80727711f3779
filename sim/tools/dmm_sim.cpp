// dmm-sim SCENARIO.yaml [--out DIR] [--seed N] [--set key=value ...] [--plot] [--pcap] [--quiet] | --version
// Runs a scenario in ns-3, checks its expectations and writes the results directory (DESIGN.md §2.2-2.3).
// Exit codes: 0 ok, 1 expectations failed, 2 bad input or usage, 3 runtime failure.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "analysis_dir.hpp"
#include "model/build_info.hpp"
#include "model/provenance.hpp"
#include "model/simulation.hpp"
#include "scenario/scenario.hpp"

extern char** environ;

namespace po = boost::program_options;
using namespace dmm;

namespace {

enum Exit { kOk = 0, kExpectationsFailed = 1, kBadInput = 2, kRuntimeFailure = 3 };

int run_plot(const std::filesystem::path& results) {
  std::string tried;
  const auto analysis = tools::find_analysis_dir(tried);
  if (!analysis) {
    std::cerr << "dmm-sim: cannot find analysis/plot_run.py (looked in " << tried
              << "); set DMM_ANALYSIS_DIR to the directory that holds it\n";
    return -1;
  }
  const std::string script = (*analysis / "plot_run.py").string();
  std::string python = "/usr/bin/python3", dir = results.string();
  char* argv[] = {python.data(), const_cast<char*>(script.c_str()), dir.data(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, python.c_str(), nullptr, nullptr, argv, environ) != 0) {
    std::cerr << "dmm-sim: cannot start " << python << " for plotting\n";
    return -1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void print_report(const scenario::Scenario& sc, const sim::RunReport& r, const std::filesystem::path& out) {
  std::printf("scenario %s (seed %llu): %.1f s simulated in %.2f s wall (%.1fx real time, %llu events)\n",
              sc.name.c_str(), static_cast<unsigned long long>(sc.seed), to_seconds(sc.duration), r.timing.wall_s,
              r.timing.wall_s > 0 ? to_seconds(sc.duration) / r.timing.wall_s : 0.0,
              static_cast<unsigned long long>(r.timing.sim_events));
  // Delivered: bytes that arrived (TCP: acknowledged by the receiver; UDP: datagrams the receiver got), over the
  // whole run. Not what the applications offered.
  std::printf("  %-16s %9s %7s %18s\n", "stack", "sessions", "share", "delivered Mbit/s");
  for (const auto& s : r.stacks) {
    std::printf("  %-16s %9llu %7.3f %18.3f\n", s.stack.c_str(), static_cast<unsigned long long>(s.sessions), s.share,
                s.delivered_mbps);
  }
  std::printf("  sessions: %llu total, %llu completed, %llu failed, %llu unfinished at the end; policy versions: %llu\n",
              static_cast<unsigned long long>(r.sessions), static_cast<unsigned long long>(r.completed),
              static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.unfinished),
              static_cast<unsigned long long>(r.policy_versions));
  std::size_t passed = 0;
  for (const auto& e : r.expectations) passed += e.passed;
  std::printf("  expectations: %zu/%zu passed\n", passed, r.expectations.size());
  for (const auto& e : r.expectations) {
    std::printf("    %s  %s  -- %s\n", e.passed ? "PASS" : "FAIL", e.text.c_str(), e.detail.c_str());
  }
  std::printf("  results: %s\n", out.string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description visible("Usage: dmm-sim SCENARIO.yaml [options]\n\nRuns a DMM scenario in ns-3.\nOptions");
  visible.add_options()
    ("help,h", "show this help")
    ("out,o", po::value<std::string>(), "results directory (default results/<scenario name>/)")
    ("seed", po::value<std::string>(), "random seed, a non-negative integer (overrides the scenario's)")
    ("set", po::value<std::vector<std::string>>()->composing(), "override a scenario key: --set nrd.period=250ms")
    ("plot", "draw plots into <out>/plots/ (analysis/plot_run.py)")
    ("pcap", "write pcap traces of every link into <out>/pcap/")
    ("quiet,q", "print nothing but errors")
    ("version", "print the version (and git commit, ns-3 version) and exit");
  po::options_description hidden;
  hidden.add_options()("scenario", po::value<std::string>());
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("scenario", 1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "dmm-sim: " << e.what() << "\n(see dmm-sim --help)\n";
    return kBadInput;
  }
  if (vm.count("help")) {
    std::cout << visible << "\nExit codes: 0 ok, 1 expectations failed, 2 bad input, 3 runtime failure.\n";
    return kOk;
  }
  if (vm.count("version")) {
    std::cout << sim::version_line("dmm-sim") << "\n";
    return kOk;
  }
  if (!vm.count("scenario")) {
    std::cerr << "dmm-sim: missing SCENARIO.yaml\n(see dmm-sim --help)\n";
    return kBadInput;
  }
  const bool quiet = vm.count("quiet") > 0;

  StackRegistry registry;
  sim::register_sim_stack_kinds(registry);
  scenario::LoadOptions load;
  load.registry = &registry;
  if (vm.count("set")) load.overrides = vm["set"].as<std::vector<std::string>>();
  if (vm.count("seed")) {
    // Parsed here: Boost would wrap `-4` around to a huge unsigned value instead of rejecting it.
    const std::string text = vm["seed"].as<std::string>();
    errno = 0;
    const unsigned long long seed = std::strtoull(text.c_str(), nullptr, 10);
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || errno == ERANGE) {
      std::cerr << "dmm-sim: --seed '" << text << "': expected a non-negative integer\n";
      return kBadInput;
    }
    load.seed = seed;
  }
  auto sc = scenario::load_file(vm["scenario"].as<std::string>(), load);
  if (!sc) {
    std::cerr << sc.error().message << "\n";
    return kBadInput;
  }
  const std::filesystem::path out =
      vm.count("out") ? std::filesystem::path(vm["out"].as<std::string>()) : std::filesystem::path("results") / sc->name;

  auto sim = sim::Simulation::create(*sc, registry, vm.count("pcap") ? std::optional(out / "pcap") : std::nullopt);
  if (!sim) {
    std::cerr << sim.error().message << "\n";
    return kBadInput;
  }

  // Wall time is the tool's business: the simulation itself never reads it (DESIGN.md §3).
  const auto wall_start = std::chrono::steady_clock::now();
  auto wall = [wall_start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  };
  sim::RunOptions options;
  options.out_dir = out;
  options.wall_seconds = wall;
  options.invocation = sim::this_invocation(
      "dmm-sim", sim::utc_timestamp(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()));
  const bool progress = !quiet && isatty(STDERR_FILENO);
  bool progress_shown = false;
  // Runs shorter than this need no progress line; DMM_PROGRESS_AFTER (seconds) changes it, e.g. for tests.
  double progress_after = 2.0;
  if (const char* after = std::getenv("DMM_PROGRESS_AFTER")) progress_after = std::atof(after);
  if (progress) {
    options.on_progress = [&](double sim_s) {
      const double w = wall();
      if (w < progress_after) return;
      progress_shown = true;
      std::fprintf(stderr, "\r  %6.1f / %.1f s simulated (%3.0f%%), %.1f s wall", sim_s, to_seconds(sc->duration),
                   100.0 * sim_s / to_seconds(sc->duration), w);
      std::fflush(stderr);
    };
  }
  auto report = (*sim)->run(options);
  if (progress_shown) std::fprintf(stderr, "\r%*s\r", 60, "");
  if (!report) {
    std::cerr << "dmm-sim: " << report.error().message << "\n";
    return kRuntimeFailure;
  }
  if (!quiet) print_report(*sc, *report, out);
  if (vm.count("plot")) {
    const int rc = run_plot(out);
    if (rc != 0) {
      std::cerr << "dmm-sim: plotting failed (analysis/plot_run.py exited " << rc << ")\n";
      return kRuntimeFailure;
    }
  }
  if (!report->all_passed()) {
    if (quiet) {
      for (const auto& e : report->expectations) {
        if (!e.passed) std::cerr << "expectation failed: " << e.text << " -- " << e.detail << "\n";
      }
    }
    return kExpectationsFailed;
  }
  return kOk;
}
