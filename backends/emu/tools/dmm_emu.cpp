// dmm-emu SCENARIO.yaml [--out DIR] [--seed N] [--set key=value ...] [--plot] [--pcap] [--quiet] [--repeat N]
//         | --version
// Runs a scenario on real stacks in network namespaces, its links emulated in real time by ns-3 (DESIGN.md §2.6),
// checks its expectations and writes the same results directory as dmm-sim plus emu.json.
// Exit codes: 0 ok, 1 expectations failed (or the run was not a faithful emulation: emu.json says why), 2 bad input
// or usage, 3 runtime failure, 130 interrupted (partial results written). With --repeat N the scenario runs N times
// one after the other into <out>/run-1 ... run-N (same seed: the repeats measure how much the real world varies
// around one script), and the exit code is the worst of the runs'; an interruption or a runtime failure stops
// the repeats.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <variant>

#include "emu_run.hpp"
#include "run/build_info.hpp"
#include "run/provenance.hpp"
#include "run/results_dir.hpp"
#include "cli/run_command_line.hpp"
#include "run/run_cli.hpp"
#include "scenario/scenario.hpp"

namespace po = boost::program_options;
using namespace dmm;

namespace {

enum Exit { kOk = 0, kExpectationsFailed = 1, kBadInput = 2, kRuntimeFailure = 3, kInterrupted = 130 };

// The scenario's kinds with the parameters dmm-sim's simulation fills in, so that a scenario is checked with the
// same rules and messages as in dmm-sim. The factories are never called: dmm-emu builds real instances itself
// (emu_run.cpp), and refuses the kinds it has no real backend for when it plans the run.
void register_scenario_kinds(StackRegistry& registry) {
  for (const char* kind : {"kernel", "lwip-dpdk", "ns3"})
    (void)registry.add({kind, {"node", "link", "tcp", "processing_delay", "time_wait"}, [](const StackConfig& c, StackWorld&) {
                          return Result<std::unique_ptr<Stack>>(
                              make_error(EINVAL, "kind '" + c.kind + "' is built by dmm-emu's run, not the registry"));
                        }});
}

std::filesystem::path self_dir() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
}

void print_report(const scenario::Scenario& sc, const emu::EmuReport& r, const std::filesystem::path& out) {
  std::printf("scenario %s (seed %llu): %.1f s emulated on real stacks%s\n", sc.name.c_str(),
              static_cast<unsigned long long>(sc.seed), to_seconds(sc.duration),
              r.valid ? "" : " -- NOT A FAITHFUL EMULATION (emu.json)");
  for (const auto& why : r.invalid_because) std::printf("  invalid: %s\n", why.c_str());
  for (const auto& note : r.notes) std::printf("  note: %s\n", note.c_str());
  sim::print_run_table(r.stacks, {r.sessions, r.completed, r.failed, r.unfinished}, r.policy_versions,
                       r.expectations, out);
}

// --repeat's value: a whole number from 1 to 1000 (1 without the option); the error printed otherwise.
std::optional<std::uint64_t> parse_repeat(const std::optional<std::string>& text) {
  if (!text) return 1;
  const auto n = sim::parse_seed(*text);  // a non-negative integer, nothing else
  if (!n || *n < 1 || *n > 1000) {
    std::cerr << "dmm-emu: --repeat: expected a whole number of runs from 1 to 1000, got '" << *text << "'\n";
    return std::nullopt;
  }
  return n;
}

struct RunFlags {
  bool quiet = false;
  bool plot = false;
};

// One run into `out` (`created`: prepare_results_dir made it, so a run that fails early removes it again).
int run_once(const scenario::Scenario& sc, const std::filesystem::path& out, bool created, emu::EmuOptions options,
             const RunFlags& flags) {
  options.out_dir = out;
  auto report = emu::run_emulation(sc, options);
  if (!report) {
    sim::remove_if_unused(out, created);
    std::cerr << "dmm-emu: " << report.error().message << "\n";
    return report.error().code == EINVAL || report.error().code == EPERM ? kBadInput : kRuntimeFailure;
  }
  if (report->interrupted_at_s) {
    std::cerr << "dmm-emu: interrupted at " << *report->interrupted_at_s << " s; partial results in " << out.string()
              << " (summary.json: \"partial\": true)\n";
    return kInterrupted;
  }
  if (!flags.quiet) print_report(sc, *report, out);
  if (flags.plot) {
    const int rc = sim::run_plot("dmm-emu", out);
    if (rc != 0) {
      std::cerr << "dmm-emu: plotting failed (analysis/plot_run.py exited " << rc << ")\n";
      return kRuntimeFailure;
    }
  }
  if (!report->valid) {
    for (const auto& why : report->invalid_because) std::cerr << "dmm-emu: not a faithful emulation: " << why << "\n";
    return kExpectationsFailed;
  }
  if (!report->all_passed()) {
    if (flags.quiet) sim::print_failed_expectations(report->expectations);
    return kExpectationsFailed;
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  const sim::RunToolText text{
      "dmm-emu", "Runs a DMM scenario on real stacks in network namespaces, its links emulated in real time by ns-3.",
      "results/<scenario name>-emu/", "write pcap traces of every link into <out>/pcap/ (as dmm-sim's --pcap)",
      "Exit codes: 0 ok, 1 expectations failed or not a faithful emulation, 2 bad input, 3 runtime failure, "
      "130 interrupted.\nNeeds root (network namespaces).\n"};
  po::options_description own;
  own.add_options()(
      "repeat", po::value<std::string>(), "run the scenario N times into <out>/run-1 ... run-N (for dmm-compare)");
  const auto parsed = sim::parse_run_command_line(argc, argv, text, own);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const auto& cli = std::get<sim::RunCommandLine>(parsed);
  const bool quiet = cli.quiet;
  const auto repeat = parse_repeat(cli.values.count("repeat") ? std::optional(cli.values["repeat"].as<std::string>())
                                                              : std::nullopt);
  if (!repeat) return kBadInput;
  StackRegistry registry;
  register_scenario_kinds(registry);
  const auto sc = sim::load_scenario_for("dmm-emu", cli.scenario, cli.overrides, cli.seed, registry, quiet);
  if (!sc) return kBadInput;
  const std::filesystem::path out =
      cli.out ? std::filesystem::path(*cli.out) : std::filesystem::path("results") / (sc->name + "-emu");
  const auto ready = sim::prepare_results_dir(out);
  if (!ready) {
    std::cerr << "dmm-emu: --out: " << ready.error().message << "\n";
    return kBadInput;
  }
  emu::EmuOptions options;
  options.pcap = cli.pcap;
  options.plugin_kinds = &registry;  // with the scenario's `plugins:` loaded
  const char* linkemu = std::getenv("DMM_LINKEMU");
  options.linkemu = linkemu ? linkemu : (self_dir() / "dmm-linkemu").string();
  const char* dmm_run = std::getenv("DMM_RUN");  // command workloads' programs start under it
  options.dmm_run = dmm_run ? dmm_run : (self_dir() / "dmm-run").string();
  options.invocation = sim::this_invocation(
      "dmm-emu", sim::utc_timestamp(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()));
  const RunFlags flags{quiet, cli.plot};
  if (*repeat == 1) return run_once(*sc, out, *ready, options, flags);
  int worst = kOk;
  std::uint64_t clean = 0;
  for (std::uint64_t i = 1; i <= *repeat; ++i) {
    const std::filesystem::path run_dir = out / ("run-" + std::to_string(i));
    const auto made = sim::prepare_results_dir(run_dir);
    if (!made) {
      std::cerr << "dmm-emu: --out: " << made.error().message << "\n";
      return kRuntimeFailure;
    }
    if (!quiet) std::printf("run %llu of %llu\n", static_cast<unsigned long long>(i), static_cast<unsigned long long>(*repeat));
    const int rc = run_once(*sc, run_dir, *made, options, flags);
    if (rc == kInterrupted || rc == kRuntimeFailure || rc == kBadInput) return rc;
    if (rc == kOk) ++clean;
    worst = std::max(worst, rc);
  }
  if (!quiet)
    std::printf("repeats: %llu of %llu runs valid with every expectation passed; results: %s/run-1 ... run-%llu\n",
                static_cast<unsigned long long>(clean), static_cast<unsigned long long>(*repeat), out.string().c_str(),
                static_cast<unsigned long long>(*repeat));
  return worst;
}
