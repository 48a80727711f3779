#include "shim_state.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <cstdlib>
#include <exception>

#include "dmm/host/host_config.hpp"
#include "dmm/host/kernel_instance.hpp"
#include "dmm/kernel/kernel_stack_config.hpp"
#include "nrd_subscription.hpp"
#include "shim_guard.hpp"

namespace dmm::preload {
namespace {

std::atomic<Shim*> g_shim{nullptr};
std::atomic<pid_t> g_owner_pid{0};

}  // namespace

Shim* active_shim() { return g_shim.load(std::memory_order_acquire); }
void install_shim(Shim* shim) { g_shim.store(shim, std::memory_order_release); }

bool in_foreign_child() { return getpid() != g_owner_pid.load(std::memory_order_relaxed); }
void set_table_owner_pid() { g_owner_pid.store(getpid(), std::memory_order_relaxed); }
pid_t table_owner_pid() { return g_owner_pid.load(std::memory_order_relaxed); }

void warn(const std::string& what) {
  const std::string line = "dmm-preload: " + what + "\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

Result<std::vector<kernel::UniqueFd>> ShimStack::create_sockets(int domain, int type, int protocol, int count) const {
  if (!sources) return make_error(ENETUNREACH, unusable_reason);
  return sources->make(*this, domain, type, protocol, count);
}

Result<int> ShimStack::create_socket(int domain, int type, int protocol) const {
  auto made = create_sockets(domain, type, protocol, 1);
  if (!made) return made.error();
  if (made->empty()) return make_error(EIO, "stack '" + name + "': no socket made");
  const int fd = made->front().release();
  // dmm-stackd's sockets arrive close-on-exec; the program's socket() may not have asked for that.
  if (!(type & SOCK_CLOEXEC) && (::fcntl(fd, F_GETFD) & FD_CLOEXEC)) ::fcntl(fd, F_SETFD, 0);
  return fd;
}

namespace {

int family_slot(int domain) { return domain == AF_INET6 ? 1 : 0; }

}  // namespace

// exit() of the program: what its user-space sessions still have to send goes out first (the kernel would send it
// after the process is gone; a stack inside the process cannot). Bounded, so that a dead peer cannot hold exit.
void drain_user_stacks_at_exit() {
  if (Shim* shim = active_shim(); shim && shim->user_stacks()) shim->user_stacks()->drain(std::chrono::seconds(2));
}

namespace {

// How long a program's start waits for dmm-nrd's policy in force, and its exit for the last samples to leave. A
// local daemon answers within a millisecond; these bound a daemon that accepts and then says nothing.
constexpr std::chrono::milliseconds kFirstPolicyWait{500};
constexpr std::chrono::milliseconds kExitFlushWait{300};

void flush_nrd_samples_at_exit_bounded() { flush_nrd_samples_at_exit(kExitFlushWait); }

}  // namespace

void Shim::start_user_stacks_impl(const std::vector<StackConfig>& configs, std::vector<std::string>& problems) {
  std::map<std::string, std::string> failed;
  std::string why;
  user_stacks_ = UserStacks::start(configs, failed, why);
  if (user_stacks_) std::atexit(drain_user_stacks_at_exit);
  for (ShimStack& stack : stacks_) {
    if (!stack.user_space) continue;
    if (!user_stacks_) {
      stack.unusable_reason = "user-space stacks unavailable: " + why;
    } else if (const auto it = failed.find(stack.name); it != failed.end()) {
      stack.unusable_reason = it->second;
    } else {
      stack.usable = true;
      continue;
    }
    problems.push_back(stack.unusable_reason);
  }
}

namespace {

bool plain_tcp(int domain, int type, int protocol) {
  return (domain == AF_INET || domain == AF_INET6) && (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
         (protocol == 0 || protocol == IPPROTO_TCP);
}

}  // namespace

int Shim::predicted_stack(int domain, int type, int protocol) const {
  if (!predict_ || !plain_tcp(domain, type, protocol)) return kNoStack;
  const int stack = last_tcp_choice_[static_cast<std::size_t>(family_slot(domain))].load(std::memory_order_relaxed);
  return stack != kNoStack && stacks_[static_cast<std::size_t>(stack)].predictable() ? stack : kNoStack;
}

bool Shim::remember_tcp_choice(int domain, int intent, int stack) {
  // Sockets are made with the default intent: only what such a socket got predicts the next one.
  if (!predict_ || intent != static_cast<int>(default_intent_)) return false;
  std::atomic<int>& last = last_tcp_choice_[static_cast<std::size_t>(family_slot(domain))];
  if (last.load(std::memory_order_relaxed) != stack) last.store(stack, std::memory_order_relaxed);
  return true;
}

Shim* Shim::create_from_environment() {
  const char* path = std::getenv("DMM_CONFIG");
  const std::string passthrough = "; running without DMM (every socket call passes through)";
  if (!path || !*path) {
    warn("DMM_CONFIG is not set" + passthrough);
    return nullptr;
  }
  try {
    // Who may use which instance is dmm-stackd's to judge: no account lookups inside the program.
    host::LoadOptions options;
    options.resolve_accounts = false;
    Result<host::HostConfig> config = host::load_host_config_file(path, options);
    if (!config) {
      warn(config.error().message + passthrough);
      return nullptr;
    }
    std::unique_ptr<Shim> shim(new Shim());
    shim->orchestrator_ = std::make_unique<Orchestrator>(config->stack_names(), config->policy);
    // The shim's circuit breaker (race_learning.hpp) leaves a line for each mark it makes or lifts. Nothing here
    // allocates: it also runs in a forked child's atfork handler.
    Shim* raw = shim.get();
    shim->orchestrator_->set_local_health_observer([raw](StackIndex stack, bool healthy, std::string_view why) {
      if (!raw->log_local_health_.load(std::memory_order_relaxed)) return;
      DecisionLine line;
      line.event = "local-health";
      line.stack = raw->orchestrator_->stack_name(stack);
      line.healthy = healthy ? 1 : 0;
      line.why = why;
      raw->log_.write(line);
    });
    shim->sources_ = std::make_unique<SocketSources>(
        config->service ? std::make_unique<ServiceLink>(config->service->socket) : nullptr);
    std::vector<std::string> problems;
    std::vector<StackConfig> user_space;  // lwip-dpdk instances, made on the user-space stack thread below
    for (const StackId& name : shim->orchestrator_->stacks()) {
      const host::StackSpec* spec = config->find_stack(name);
      ShimStack stack;
      stack.name = name;
      if (spec && spec->lwip_dpdk && config->service) {
        // dmm-stackd runs it (dmm-run starts the daemon when none answers); whether it really does is found at
        // the first session, which then moves down the ranked list with the reason.
        stack.served = true;
        stack.usable = true;
        stack.addresses.push_back(spec->lwip_dpdk->address.address);
        if (spec->lwip_dpdk->address6) stack.addresses.push_back(spec->lwip_dpdk->address6->address);
      } else if (spec && spec->lwip_dpdk) {
        stack.user_space = true;
        user_space.push_back(StackConfig{spec->name, spec->kind, spec->params});
      } else if (!spec || !spec->kernel) {
        stack.unusable_reason = "stack '" + name + "' is of kind '" + (spec ? spec->kind : "?") +
                                "', which the preload shim cannot place sessions on yet";
      } else {
        stack.own_namespace = !spec->kernel->netns;
        stack.mptcp = spec->kernel->protocol == host::KernelProtocol::mptcp;
        stack.sources = shim->sources_.get();
        Result<kernel::InstanceSockets> sockets = kernel::InstanceSockets::open(host::kernel_stack_config(*spec));
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
    // exit(): samples go to dmm-nrd after the user-space sessions' last ones are made (atexit runs handlers in
    // reverse: this one, registered first, runs after the user-space drain registered below).
    if (config->nrd) std::atexit(flush_nrd_samples_at_exit_bounded);
    if (!user_space.empty()) shim->start_user_stacks_impl(user_space, problems);
    bool pool = false;
    for (const ShimStack& stack : shim->stacks_) pool = pool || stack.poolable(SOCK_STREAM, 0);
    if (const char* value = std::getenv("DMM_POOL"); value && *value) {
      const std::string text = value;
      if (text == "off" || text == "0")
        pool = false;
      else if (text == "on" || text == "1")
        shim->pool_always_ = true;
      else if (text != "auto")
        problems.push_back("DMM_POOL '" + text + "' is not auto, on or off; it stays auto");
    }
    if (pool) {
      const Shim* self = shim.get();
      shim->pools_ = std::make_unique<SocketPools>([self](const PoolKey& key, int count) {
        const int type = key.type | SOCK_CLOEXEC | (key.nonblocking ? SOCK_NONBLOCK : 0);
        return self->stack(key.stack).create_sockets(key.domain, type, 0, count);
      });
    }
    if (const char* intent = std::getenv("DMM_INTENT"); intent && *intent) {
      if (std::optional<Intent> parsed = parse_intent(intent))
        shim->default_intent_ = *parsed;
      else
        problems.push_back(std::string("DMM_INTENT '") + intent +
                           "' is not an intent (default, latency, throughput, bulk); using default");
    }
    if (const char* predict = std::getenv("DMM_PREDICT"); predict && *predict) {
      const std::string value = predict;
      if (value == "off" || value == "0")
        shim->predict_ = false;
      else if (value != "on" && value != "1")
        problems.push_back("DMM_PREDICT '" + value + "' is not on/off; prediction stays on");
    }
    const char* log_env = std::getenv("DMM_LOG");
    const std::string log_path = log_env && *log_env ? std::string(log_env) : config->log.decisions.value_or("");
    if (!log_path.empty() && !shim->log_.open(log_path))
      problems.push_back("cannot open decision log " + log_path + ": " + std::strerror(errno));
    // dmm-nrd (issue 6): new policy versions and session samples travel on a thread of their own, which holds the
    // orchestrator: released first, so that nothing below can destroy it under that thread.
    Shim* started = shim.release();
    if (config->nrd) start_nrd_subscription(*started->orchestrator_, *config->nrd, problems, kFirstPolicyWait);
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
