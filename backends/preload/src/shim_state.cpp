#include "shim_state.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <cstdlib>
#include <exception>

#include "dmm/host/host_config.hpp"
#include "dmm/kernel/kernel_stack_config.hpp"
#include "nrd_subscription.hpp"

namespace dmm::preload {
namespace {

std::atomic<Shim*> g_shim{nullptr};
std::atomic<pid_t> g_owner_pid{0};

kernel::KernelStackConfig kernel_config_of(const host::StackSpec& spec) {
  kernel::KernelStackConfig config;
  config.name = spec.name;
  config.netns = spec.kernel->netns;
  config.protocol = spec.kernel->protocol == host::KernelProtocol::mptcp ? kernel::KernelProtocol::mptcp
                                                                         : kernel::KernelProtocol::tcp;
  return config;
}

}  // namespace

Shim* active_shim() { return g_shim.load(std::memory_order_acquire); }
void install_shim(Shim* shim) { g_shim.store(shim, std::memory_order_release); }

bool in_foreign_child() { return getpid() != g_owner_pid.load(std::memory_order_relaxed); }
void set_table_owner_pid() { g_owner_pid.store(getpid(), std::memory_order_relaxed); }

void warn(const std::string& what) {
  const std::string line = "dmm-preload: " + what + "\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

Result<int> ShimStack::create_socket(int domain, int type, int protocol) const {
  if (!sockets) return make_error(EAFNOSUPPORT, unusable_reason);
  Result<kernel::UniqueFd> fd = sockets->socket(domain, type, protocol);
  if (!fd) return fd.error();
  return fd->release();
}

Shim* Shim::create_from_environment() {
  const char* path = std::getenv("DMM_CONFIG");
  const std::string passthrough = "; running without DMM (every socket call passes through)";
  if (!path || !*path) {
    warn("DMM_CONFIG is not set" + passthrough);
    return nullptr;
  }
  try {
    Result<host::HostConfig> config = host::load_host_config_file(path);
    if (!config) {
      warn(config.error().message + passthrough);
      return nullptr;
    }
    std::unique_ptr<Shim> shim(new Shim());
    shim->orchestrator_ = std::make_unique<Orchestrator>(config->stack_names(), config->policy);
    std::vector<std::string> problems;
    for (const StackId& name : shim->orchestrator_->stacks()) {
      const host::StackSpec* spec = config->find_stack(name);
      ShimStack stack;
      stack.name = name;
      if (!spec || !spec->kernel) {
        stack.unusable_reason = "stack '" + name + "' is of kind '" + (spec ? spec->kind : "?") +
                                "', which the preload shim cannot place sessions on yet";
      } else {
        stack.own_namespace = !spec->kernel->netns;
        stack.mptcp = spec->kernel->protocol == host::KernelProtocol::mptcp;
        Result<kernel::InstanceSockets> sockets = kernel::InstanceSockets::open(kernel_config_of(*spec));
        if (sockets) {
          stack.sockets.emplace(std::move(*sockets));
          stack.usable = true;
        } else {
          // Not fatal: the ranked list falls through to the next stack, and dmm-run has refused such a config
          // before starting the program; this only happens if the host changed since.
          stack.unusable_reason = sockets.error().message;
          problems.push_back(sockets.error().message);
        }
      }
      if (stack.usable && stack.own_namespace && !stack.mptcp && shim->own_stack_ < 0)
        shim->own_stack_ = static_cast<int>(shim->stacks_.size());
      shim->stacks_.push_back(std::move(stack));
    }
    if (const char* intent = std::getenv("DMM_INTENT"); intent && *intent) {
      if (std::optional<Intent> parsed = parse_intent(intent))
        shim->default_intent_ = *parsed;
      else
        problems.push_back(std::string("DMM_INTENT '") + intent +
                           "' is not an intent (default, latency, throughput, bulk); using default");
    }
    const char* log_env = std::getenv("DMM_LOG");
    const std::string log_path = log_env && *log_env ? std::string(log_env) : config->log.decisions.value_or("");
    if (!log_path.empty() && !shim->log_.open(log_path))
      problems.push_back("cannot open decision log " + log_path + ": " + std::strerror(errno));
    // dmm-nrd (issue 6): new policy versions and session samples travel on a thread of their own, which holds the
    // orchestrator: released first, so that nothing below can destroy it under that thread.
    Shim* started = shim.release();
    if (config->nrd) start_nrd_subscription(*started->orchestrator_, *config->nrd, problems);
    // One warning line, however many things are wrong: the program's stderr is not ours to fill.
    if (!problems.empty()) {
      std::string joined;
      for (const std::string& p : problems) joined += (joined.empty() ? "" : "; ") + p;
      warn(joined);
    }
    return started;
  } catch (const std::exception& e) {
    warn(std::string("cannot start: ") + e.what() + passthrough);
  } catch (...) {
    warn("cannot start: unknown error" + passthrough);
  }
  return nullptr;
}

}  // namespace dmm::preload
