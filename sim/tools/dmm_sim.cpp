// dmm-sim SCENARIO.yaml [--out DIR] [--seed N] [--set key=value ...] [--plot] [--pcap] [--quiet] | --version
// Runs a scenario in ns-3, checks its expectations and writes the results directory (DESIGN.md §2.2-2.3).
// Exit codes: 0 ok, 1 expectations failed, 2 bad input or usage, 3 runtime failure, 130 interrupted (partial
// results written).
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "run/build_info.hpp"
#include "run/provenance.hpp"
#include "run/progress_line.hpp"
#include "run/results_dir.hpp"
#include "cli/run_command_line.hpp"
#include "run/run_cli.hpp"
#include "model/simulation.hpp"
#include "scenario/scenario.hpp"

namespace po = boost::program_options;
using namespace dmm;

namespace {

// kInterrupted: 128 + SIGINT, what shells report for a program stopped by Ctrl-C; the partial results are on disk.
enum Exit { kOk = 0, kExpectationsFailed = 1, kBadInput = 2, kRuntimeFailure = 3, kInterrupted = 130 };

// The run being watched, for the signal handler (which can reach nothing else). Set before the handler is.
sim::RunMonitor* g_monitor = nullptr;

// Ctrl-C (or SIGTERM) ends the run after the current event and keeps what it has; a second one kills as usual
// (SA_RESETHAND), for a run stuck somewhere no event ends.
extern "C" void on_stop_signal(int) {
  if (g_monitor) g_monitor->stop.store(true, std::memory_order_relaxed);
}

void stop_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Prints the progress line from its own thread every `interval` until stopped: it must move even while simulated
// time crawls (the simulation's own 1 % ticks would not come).
class ProgressPrinter {
public:
  ProgressPrinter(const sim::RunMonitor& monitor, double duration_s, std::function<double()> wall, double after_s,
                  double interval_s)
      : monitor_(monitor), line_(duration_s), wall_(std::move(wall)), after_s_(after_s), interval_s_(interval_s),
        thread_([this] { loop(); }) {}
  ~ProgressPrinter() { finish(); }

  // Stops the thread and wipes the line.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
    if (shown_ > 0) std::fprintf(stderr, "\r%*s\r", static_cast<int>(shown_), "");
  }

private:
  void loop() {
    std::unique_lock lock(mutex_);
    // A look at once (a line as soon as DMM_PROGRESS_AFTER allows), then one per interval.
    for (bool first = true; first || !wake_.wait_for(lock, std::chrono::duration<double>(interval_s_),
                                                     [this] { return done_; });
         first = false) {
      const double w = wall_();
      if (w < after_s_) continue;
      const std::string text = "  " + line_.update(w, double(monitor_.sim_ns.load()) / 1e9, monitor_.events.load());
      // Pad over a longer previous line: the line only ever grows or shrinks by a few characters.
      std::fprintf(stderr, "\r%-*s", static_cast<int>(shown_), text.c_str());
      std::fflush(stderr);
      shown_ = std::max(shown_, text.size());
    }
  }

  const sim::RunMonitor& monitor_;
  sim::ProgressLine line_;
  std::function<double()> wall_;
  double after_s_, interval_s_;
  std::size_t shown_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;  // last: starts once everything above is ready
};

void print_report(const scenario::Scenario& sc, const sim::RunReport& r, const std::filesystem::path& out) {
  std::printf("scenario %s (seed %llu): %.1f s simulated in %.2f s wall (%.1fx real time, %llu events)\n",
              sc.name.c_str(), static_cast<unsigned long long>(sc.seed), to_seconds(sc.duration), r.timing.wall_s,
              r.timing.wall_s > 0 ? to_seconds(sc.duration) / r.timing.wall_s : 0.0,
              static_cast<unsigned long long>(r.timing.sim_events));
  sim::print_run_table(r.stacks, {r.sessions, r.completed, r.failed, r.unfinished}, r.policy_versions,
                       r.expectations, out);
}

}  // namespace

int main(int argc, char** argv) {
  const sim::RunToolText text{
      "dmm-sim", "Runs a DMM scenario in ns-3.", "results/<scenario name>/",
      "write pcap traces of every link into <out>/pcap/",
      "Exit codes: 0 ok, 1 expectations failed, 2 bad input, 3 runtime failure, 130 interrupted\n"
      "(Ctrl-C: the run stops after the current event and writes partial results).\n"};
  const auto parsed = sim::parse_run_command_line(argc, argv, text, po::options_description());
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const auto& cli = std::get<sim::RunCommandLine>(parsed);
  const bool quiet = cli.quiet;

  StackRegistry registry;
  sim::register_sim_stack_kinds(registry);
  const auto sc = sim::load_scenario_for("dmm-sim", cli.scenario, cli.overrides, cli.seed, registry, quiet);
  if (!sc) return kBadInput;
  const std::filesystem::path out =
      cli.out ? std::filesystem::path(*cli.out) : std::filesystem::path("results") / sc->name;
  // Before simulating: a directory that cannot hold the results is bad input, not a failure after the run.
  const auto ready = sim::prepare_results_dir(out);
  if (!ready) {
    std::cerr << "dmm-sim: --out: " << ready.error().message << "\n";
    return kBadInput;
  }

  auto sim = sim::Simulation::create(*sc, registry, cli.pcap ? std::optional(out / "pcap") : std::nullopt);
  if (!sim) {
    std::cerr << sim.error().message << "\n";
    return kBadInput;
  }

  // Wall time is the tool's business: the simulation itself never reads it (DESIGN.md §3).
  const auto wall_start = std::chrono::steady_clock::now();
  auto wall = [wall_start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  };
  sim::RunMonitor monitor;
  g_monitor = &monitor;
  stop_on_signals();
  sim::RunOptions options;
  options.out_dir = out;
  options.wall_seconds = wall;
  options.invocation = sim::this_invocation(
      "dmm-sim", sim::utc_timestamp(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()));
  options.monitor = &monitor;
  // Runs shorter than DMM_PROGRESS_AFTER (seconds, default 2) need no progress line; it is redrawn every
  // DMM_PROGRESS_INTERVAL seconds (default 0.5). Both are for tests.
  const auto seconds_from_env = [](const char* name, double fallback) {
    const char* text = std::getenv(name);
    return text ? std::atof(text) : fallback;
  };
  std::optional<ProgressPrinter> progress;
  if (!quiet && isatty(STDERR_FILENO))
    progress.emplace(monitor, to_seconds(sc->duration), wall, seconds_from_env("DMM_PROGRESS_AFTER", 2.0),
                     std::max(seconds_from_env("DMM_PROGRESS_INTERVAL", 0.5), 0.01));
  auto report = (*sim)->run(options);
  if (progress) progress->finish();
  if (!report) {
    sim::remove_if_unused(out, *ready);  // a failed run writes nothing, not even an empty directory
    std::cerr << "dmm-sim: " << report.error().message << "\n";
    return kRuntimeFailure;
  }
  if (report->interrupted()) {
    std::cerr << "dmm-sim: interrupted at " << *report->timing.interrupted_at_s
              << " s simulated; partial results in " << out.string() << " (summary.json: \"partial\": true)\n";
    return kInterrupted;
  }
  if (!quiet) print_report(*sc, *report, out);
  if (cli.plot) {
    const int rc = sim::run_plot("dmm-sim", out);
    if (rc != 0) {
      std::cerr << "dmm-sim: plotting failed (analysis/plot_run.py exited " << rc << ")\n";
      return kRuntimeFailure;
    }
  }
  if (!report->all_passed()) {
    if (quiet) sim::print_failed_expectations(report->expectations);
    return kExpectationsFailed;
  }
  return kOk;
}
