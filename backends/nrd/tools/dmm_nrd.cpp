// dmm-nrd --config nrd.yaml   (DESIGN.md §2.3; README "dmm-nrd")
// The resource-discovery daemon for real hosts. Exit codes: 0 after SIGTERM/SIGINT, 2 for bad input or usage
// (`FILE:LINE:COL: what is wrong` for the configs, the state file that is not a policy), 3 for runtime failures
// (the socket is taken, a namespace is gone, the event loop failed).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <iostream>
#include <spdlog/spdlog.h>

#include "dmm/host/spdlog_level.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/stop_signals.hpp"
#include "dmm/nrd/nrd_config.hpp"
#include "dmm/nrd/nrd_daemon.hpp"

namespace po = boost::program_options;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 3;

int usage_error(const std::string& what) {
  std::cerr << "dmm-nrd: " << what << "\nTry 'dmm-nrd --help'.\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc(
      "Usage: dmm-nrd --config nrd.yaml [--check]\n\n"
      "The DMM resource-discovery daemon: probes the host's stack instances, takes path samples from the\n"
      "orchestrators (programs under dmm-run), runs the configured policy algorithm every period and publishes\n"
      "each new policy version to its subscribers over a Unix-domain socket (and optionally TCP). Logs go to\n"
      "stderr, one `event=... key=value` line each. SIGTERM or SIGINT stop it (exit 0).\n\n"
      "Options");
  std::string config_path;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("config,c", po::value(&config_path), "the daemon's config (nrd.yaml; its schema is in the README)")
      ("check", "load and check the configs, print a summary, and exit (0 if they are good)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << desc << "\nExit codes: 0 stopped by a signal (or --check passed), 2 bad input or usage,\n"
                         "3 runtime failure.\n";
    return 0;
  }
  if (config_path.empty()) return usage_error("--config is required");

  auto config = dmm::nrd::load_nrd_config_file(config_path, ::getuid());
  if (!config) {
    std::cerr << "dmm-nrd: " << config.error().message << "\n";
    return kExitUsage;
  }
  if (vm.count("check")) {
    std::cout << "config ok: " << config->host.stacks.size() << " stacks, " << config->probes.targets.size()
              << " probe targets, algorithm " << config->algorithm << ", socket " << config->listen.unix_path << "\n";
    return 0;
  }

  auto log = dmm::host::daemon_logger("dmm-nrd", config->log_level);

  auto executor = dmm::kernel::EpollExecutor::create();
  if (!executor) {
    std::cerr << "dmm-nrd: cannot create the event loop: " << executor.error().message << "\n";
    return kExitRuntime;
  }
  auto signals = dmm::kernel::StopSignals::watch(**executor);
  if (!signals) {
    std::cerr << "dmm-nrd: " << signals.error().message << "\n";
    return kExitRuntime;
  }
  auto daemon = dmm::nrd::NrdDaemon::create(std::move(*config), **executor, log);
  if (!daemon) {
    std::cerr << "dmm-nrd: " << daemon.error().message << "\n";
    return daemon.error().code == EINVAL ? kExitUsage : kExitRuntime;
  }
  (*daemon)->start();
  const dmm::Status ran = (*executor)->run();
  if (!ran) {
    log->critical("event=loop_failed error=\"{}\"", ran.error().message);
    return kExitRuntime;
  }
  log->info("event=stopped signal={}", (*signals)->received());
  return 0;
}
