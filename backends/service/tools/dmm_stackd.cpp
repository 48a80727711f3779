// dmm-stackd --config dmm.yaml [--check]   (DESIGN.md §2.3, §2.4; backends/service/README.md)
// The host's stack service: sockets inside kernel stack instances' namespaces for processes that may not enter them.
// Exit codes: 0 after SIGTERM/SIGINT (or --check passed), 2 for bad input or usage (`FILE:LINE:COL: what is wrong`,
// a host config without `service:`), 3 for runtime failures (the socket is taken by a live daemon, a namespace
// cannot be opened, the event loop failed).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <functional>
#include <optional>
#include <iostream>
#include <spdlog/spdlog.h>

#include "dmm/host/host_config.hpp"
#include "dmm/host/spdlog_level.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/stop_signals.hpp"
#include "dmm/service/stack_service_daemon.hpp"
#include "dmm/units.hpp"

namespace po = boost::program_options;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 3;

int usage_error(const std::string& what) {
  std::cerr << "dmm-stackd: " << what << "\nTry 'dmm-stackd --help'.\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc(
      "Usage: dmm-stackd --config dmm.yaml [--check] [--idle-exit DURATION]\n\n"
      "The DMM host stack service: makes TCP and UDP sockets inside the network namespaces of the host config's\n"
      "kernel stack instances for programs under dmm-run that may not enter them (they dropped root), and runs\n"
      "the config's lwip-dpdk instances for every program under dmm-run (sessions and listeners; each program's\n"
      "fd is a real socket the daemon pumps), over the Unix socket `service.socket`. Each stack's `allow:` says\n"
      "which users and groups may use it (root always may). Runs as root. Logs go to stderr, one `event=... key=value` line each; the level\n"
      "is the host config's `log.level`. SIGTERM or SIGINT stop it (exit 0).\n\n"
      "Options");
  std::string config_path;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("config,c", po::value(&config_path), "the host config (dmm.yaml, with a `service:` section)")
      ("check", "load and check the config, print a summary, and exit (0 if it is good)")
      ("idle-exit", po::value<std::string>(), "stop (exit 0) once no program has been connected and no session "
       "open for this long, e.g. 30s (dmm-run starts the daemon on demand with it)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << desc << "\nExit codes: 0 stopped by a signal (or --check passed), 2 bad input or usage,\n"
                         "3 runtime failure (the socket is taken by a live daemon, a namespace cannot be opened, an lwip-dpdk\n"
                         "instance cannot start).\n";
    return 0;
  }
  if (config_path.empty()) return usage_error("--config is required");
  std::optional<dmm::Duration> idle_exit;
  if (vm.count("idle-exit")) {
    auto parsed = dmm::parse_duration(vm["idle-exit"].as<std::string>());
    if (!parsed || *parsed <= dmm::Duration::zero())
      return usage_error("--idle-exit '" + vm["idle-exit"].as<std::string>() + "' is not a positive duration (e.g. 30s)");
    idle_exit = *parsed;
  }

  auto config = dmm::host::load_host_config_file(config_path);
  if (!config) {
    std::cerr << "dmm-stackd: " << config.error().message << "\n";
    return kExitUsage;
  }
  if (!config->service) {
    std::cerr << "dmm-stackd: " << config_path
              << ":1:1: no `service:` section (dmm-stackd needs `service: {socket: PATH}` to know where to listen)\n";
    return kExitUsage;
  }
  if (vm.count("check")) {
    int served = 0;
    for (const auto& stack : config->stacks) served += (stack.kernel && stack.kernel->netns) || stack.lwip_dpdk ? 1 : 0;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(config->service->mode));
    std::cout << "config ok: " << served << " of " << config->stacks.size() << " stacks served, socket "
              << config->service->socket << " mode " << mode << "\n";
    return 0;
  }

  auto log = dmm::host::daemon_logger("dmm-stackd", config->log.level);

  auto executor = dmm::kernel::EpollExecutor::create();
  if (!executor) {
    std::cerr << "dmm-stackd: cannot create the event loop: " << executor.error().message << "\n";
    return kExitRuntime;
  }
  auto signals = dmm::kernel::StopSignals::watch(**executor);
  if (!signals) {
    std::cerr << "dmm-stackd: " << signals.error().message << "\n";
    return kExitRuntime;
  }
  auto daemon = dmm::service::StackServiceDaemon::create(std::move(*config), **executor, log);
  if (!daemon) {
    std::cerr << "dmm-stackd: " << daemon.error().message << "\n";
    return kExitRuntime;
  }
  // An on-demand daemon ends when nobody has needed it for `idle_exit` (checked once a second).
  std::function<void()> check_idle;
  dmm::TimePoint idle_since{-1};
  if (idle_exit) {
    check_idle = [&] {
      const dmm::TimePoint now = (*executor)->now();
      if ((*daemon)->peers() > 0 || (*daemon)->live_sessions() > 0) {
        idle_since = dmm::TimePoint{-1};
      } else if (idle_since < dmm::TimePoint::zero()) {
        idle_since = now;
      } else if (now - idle_since >= *idle_exit) {
        log->info("event=idle_exit idle_ms={}",
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - idle_since).count());
        (*executor)->stop();
        return;
      }
      (*executor)->schedule(std::chrono::seconds(1), check_idle);
    };
    (*executor)->schedule(std::chrono::seconds(1), check_idle);
  }
  const dmm::Status ran = (*executor)->run();
  if (!ran) {
    log->critical("event=loop_failed error=\"{}\"", ran.error().message);
    return kExitRuntime;
  }
  const auto& c = (*daemon)->counters();
  log->info("event=stopped signal={} peers_accepted={} requests_granted={} sockets_made={} sessions_opened={}",
            (*signals)->received(), c.peers_accepted, c.requests_granted, c.sockets_made, c.sessions_opened);
  return 0;
}
