// dmm-stackd --config dmm.yaml [--check]   (DESIGN.md §2.3, §2.4; backends/service/README.md)
// The host's stack service: sockets inside kernel stack instances' namespaces for processes that may not enter them.
// Exit codes: 0 after SIGTERM/SIGINT (or --check passed), 2 for bad input or usage (`FILE:LINE:COL: what is wrong`,
// a host config without `service:`), 3 for runtime failures (the socket is taken by a live daemon, a namespace
// cannot be opened, the event loop failed).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
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

// What dmm-stackd needs beyond the config to run its lwip-dpdk instances: /dev/net/tun and `ip` (datagram_pump).
dmm::Status check_user_space_needs(const dmm::host::HostConfig& config) {
  const auto user = std::find_if(config.stacks.begin(), config.stacks.end(),
                                 [](const dmm::host::StackSpec& s) { return s.lwip_dpdk.has_value(); });
  if (user == config.stacks.end()) return {};
  const std::string where = config.file + ":" + std::to_string(user->mark.line) + ":" +
                            std::to_string(user->mark.column) + ": stack '" + user->name + "': ";
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) {
    const int err = errno;
    return dmm::make_error(err, where + "/dev/net/tun is not usable (" + std::strerror(err) +
                                    "): a user-space instance's UDP sockets need a tun device");
  }
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"})
    if (::access((std::string(dir) + "/ip").c_str(), X_OK) == 0) return {};
  return dmm::make_error(ENOENT, where + "`ip` (iproute2) is not installed: it sets up the instance's UDP namespace");
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
      "is the host config's `log.level`. SIGTERM or SIGINT stop it (exit 0). An edit of the config file is served\n"
      "within 2 s (`allow:`, kernel instances); a changed lwip-dpdk instance or `service:` needs a restart (with\n"
      "--idle-exit it exits as soon as no program uses it, and the next dmm-run starts it anew).\n\n"
      "Options");
  std::string config_path;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("config,c", po::value(&config_path), "the host config (dmm.yaml, with a `service:` section)")
      ("check", "load and check the config and the host (namespaces, interfaces, tun), print a summary, and exit "
       "(0 if both are good)")
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
    // The host too, as a start would find it: namespaces, interfaces, congestion controls, plug-ins, and what
    // running user-space instances needs (a tun device and `ip` for their UDP namespaces).
    if (dmm::Status host = dmm::host::check_host(*config); !host) {
      std::cerr << "dmm-stackd: " << host.error().message << "\n";
      return kExitUsage;
    }
    if (dmm::Status needs = check_user_space_needs(*config); !needs) {
      std::cerr << "dmm-stackd: " << needs.error().message << "\n";
      return kExitUsage;
    }
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
  // An edited config is served from the next check on, as far as a running daemon can; what needs a restart (a
  // user-space instance changed, the socket moved) ends an on-demand daemon as soon as nobody uses it — the next
  // dmm-run starts one with the config as it is now — and is left to the administrator otherwise.
  bool restart_for_config = false;
  (*daemon)->watch_config(std::chrono::seconds(2), [&](const std::vector<std::string>& waiting) {
    std::string names;
    for (const std::string& name : waiting) names += (names.empty() ? "" : ",") + name;
    if (idle_exit) {
      restart_for_config = true;
      log->info("event=config_needs_restart waiting={} action=\"exit once no program uses this daemon\"", names);
    } else {
      log->warn("event=config_needs_restart waiting={} action=\"restart dmm-stackd to apply\"", names);
    }
  });
  // An on-demand daemon ends when nobody has needed it for `idle_exit` (checked once a second).
  std::function<void()> check_idle;
  dmm::TimePoint idle_since{-1};
  if (idle_exit) {
    check_idle = [&] {
      const dmm::TimePoint now = (*executor)->now();
      const bool in_use = (*daemon)->peers() > 0 || (*daemon)->live_sessions() > 0;
      if (restart_for_config && !in_use) {
        log->info("event=exit_for_config");
        (*executor)->stop();
        return;
      }
      if (in_use) {
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
