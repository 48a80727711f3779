#include "bench_runner.hpp"

#include <time.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <iostream>

#include "bench_process.hpp"
#include "bench_lab.hpp"

namespace dmm::bench {

Result<std::filesystem::path> write_config(const BenchOptions& options, const std::string& name,
                                           const std::string& text) {
  const auto path = options.work_dir / name;
  std::ofstream out(path);
  out << text;
  if (!out.flush()) return make_error(EIO, "cannot write " + path.string());
  return path;
}

Result<BackgroundProcess> start_stack_service(const BenchOptions& options, const std::filesystem::path& config,
                                              const std::filesystem::path& socket) {
  auto stackd = BackgroundProcess::start(
      {(options.self.parent_path() / "dmm-stackd").string(), "--config", config.string()}, "");
  if (!stackd) return stackd.error();
  for (int i = 0; i < 500 && !std::filesystem::exists(socket) && stackd->running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!std::filesystem::exists(socket))
    return make_error(EIO, "dmm-stackd did not come up (no " + socket.string() + "; its stderr says why)");
  return stackd;
}

Result<nlohmann::json> run_client(const BenchOptions& options, const ClientVariant& variant,
                                  const ClientWorkload& workload) {
  std::vector<std::string> argv = variant.run_as;
  if (variant.config) argv.insert(argv.end(), {options.dmm_run.string(), "--config", variant.config->string(), "--"});
  if (!workload.parse) {
    argv.push_back(options.self.string());
    argv.push_back("client");
  }
  for (std::string arg : workload.args) {
    if (const auto at = arg.find("{host}"); at != std::string::npos) arg.replace(at, 6, variant.host);
    argv.push_back(std::move(arg));
  }
  argv.insert(argv.end(), variant.client_args.begin(), variant.client_args.end());
  // When the process starts, for clients that measure what their first session cost them (run_first_session).
  std::vector<std::string> env = variant.env;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  env.push_back("DMM_BENCH_SPAWNED_AT_NS=" + std::to_string(static_cast<long long>(now.tv_sec) * 1'000'000'000LL +
                                                           now.tv_nsec));
  auto outcome = run_process(argv, env, BenchLab::path_of(variant.netns), std::chrono::seconds(120),
                             options.cancel_fd);
  if (!outcome) return outcome.error();
  const std::string where = "client " + workload.name + " (" + variant.name + ")";
  if (outcome->exit_code != 0)
    return make_error(EIO, where + " failed with exit status " + std::to_string(outcome->exit_code) + ": " +
                               join_command(argv));
  if (workload.parse) {
    auto figures = workload.parse(outcome->out);
    if (!figures) return make_error(EPROTO, where + ": " + figures.error().message);
    return figures;
  }
  try {
    return nlohmann::json::parse(outcome->out);
  } catch (const nlohmann::json::exception& e) {
    return make_error(EPROTO, where + " printed no JSON (" + e.what() + "): " + outcome->out);
  }
}

Status run_rounds(const BenchOptions& options, const std::vector<ClientVariant>& given,
                  const std::vector<ClientWorkload>& workloads, BenchReport& report) {
  std::vector<ClientVariant> variants = given;
  if (options.control && !given.empty()) {
    ClientVariant again = given.front();  // the baseline comes first
    again.name += "-again";
    again.description = "the baseline once more (A/A control: its slowdown is the run's noise)";
    variants.push_back(again);
  }
  for (const auto& v : variants) report.add_variant(v.name, v.description);
  const std::size_t n = variants.size();
  for (int round = 0; round < options.rounds; ++round) {
    for (const auto& workload : workloads) {
      for (std::size_t i = 0; i < n; ++i) {
        const ClientVariant& variant = variants[(i + static_cast<std::size_t>(round)) % n];
        auto figures = run_client(options, variant, workload);
        if (!figures) return figures.error();
        for (const auto& key : workload.figures) {
          if (!figures->contains(key) || !(*figures)[key].is_number())
            return make_error(EPROTO, "client " + workload.name + " did not report '" + key + "'");
          report.record(variant.name, key, (*figures)[key].get<double>());
        }
        if (options.verbose)
          std::cerr << "round " << round + 1 << " " << workload.name << " " << variant.name << ": "
                    << figures->dump() << "\n";
      }
    }
  }
  return {};
}

}  // namespace dmm::bench
