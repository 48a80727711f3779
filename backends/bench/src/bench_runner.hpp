#pragma once
// Runs benchmark clients as variants: the same client program (`dmm-bench client ...`) started in a given
// namespace, either plainly or under dmm-run with a given host config. Several rounds, variants interleaved
// within each round (in a rotating order), so that slow drifts of a shared machine hit every variant alike.
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "bench_report.hpp"
#include "dmm/result.hpp"

namespace dmm::bench {

struct BenchOptions {
  int rounds = 5;
  bool quick = false;                  // tiny counts and durations: checks that everything runs, measures nothing
  std::filesystem::path self;          // this executable (the client program)
  std::filesystem::path dmm_run;       // dmm-run, next to it
  std::filesystem::path work_dir;      // for generated host configs; removed afterwards
  int cancel_fd = -1;                  // readable when the run must stop (SIGINT/SIGTERM)
  bool verbose = false;                // print every client's figures as they come
  // Also run the baseline a second time as its own variant ("<baseline>-again"): its "slowdown" is the noise
  // floor of this machine in this run, against which the other variants' ratios can be read.
  bool control = false;
};

struct ClientVariant {
  std::string name;
  std::string description;
  std::string netns;                            // namespace the client process runs in
  std::optional<std::filesystem::path> config;  // under dmm-run with this host config; absent: plain
  std::vector<std::string> env;                 // extra environment ("NAME=value")
  std::vector<std::string> client_args;         // appended to every workload's arguments (--api core ...)
  std::string host;                             // replaces "{host}" in workload arguments
  std::vector<std::string> run_as;              // prepended to the whole command (setpriv ...: another user)
};

struct ClientWorkload {
  std::string name;
  std::vector<std::string> args;  // after `dmm-bench client`
  std::vector<std::string> figures;  // keys of the client's JSON recorded in the report
  // An unmodified program instead of `dmm-bench client` (ab, ...): `args` is then its whole command line, and
  // `parse` turns what it printed into the figures (absent: the client's JSON).
  std::function<Result<nlohmann::json>(const std::string& out)> parse;
};

// Writes `text` to work_dir/name and returns its path.
// dmm-stackd (next to dmm-bench) for `config`, once its socket `socket` is there.
Result<BackgroundProcess> start_stack_service(const BenchOptions& options, const std::filesystem::path& config,
                                              const std::filesystem::path& socket);

Result<std::filesystem::path> write_config(const BenchOptions& options, const std::string& name,
                                           const std::string& text);

// One client run: its JSON figures, or why it failed (exit status, the client's own message on stderr).
Result<nlohmann::json> run_client(const BenchOptions& options, const ClientVariant& variant,
                                  const ClientWorkload& workload);

// rounds x workloads x variants, recorded into `report`.
Status run_rounds(const BenchOptions& options, const std::vector<ClientVariant>& variants,
                  const std::vector<ClientWorkload>& workloads, BenchReport& report);

}  // namespace dmm::bench
