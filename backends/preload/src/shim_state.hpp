#pragma once
// Everything the shim knows after start-up: the orchestrator (the same core as in simulation), how to make a
// socket on each stack instance, the decision log and the default intent. Built once, on the first socket() call
// after the library constructor, from DMM_CONFIG, and then only read; never destroyed (threads may still connect
// while exit() runs destructors).
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "decision_log.hpp"
#include "dmm/kernel/instance_sockets.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/result.hpp"
#include "dmm/session.hpp"
#include "fd_record.hpp"
#include "socket_sources.hpp"
#include "socket_pool.hpp"
#include "user_stacks.hpp"

namespace dmm::preload {

// One stack instance as the shim can use it.
struct ShimStack {
  std::string name;
  // A stack the shim could not set up (a namespace gone, a vdev DPDK refused) is skipped in the ranked list.
  bool usable = false;
  std::string unusable_reason;
  bool own_namespace = false;  // a kernel instance in the namespace the program runs in
  bool mptcp = false;          // TCP sessions become IPPROTO_MPTCP
  bool user_space = false;     // an lwip-dpdk instance: sessions are UserSessions on the user-space stack thread
  // An lwip-dpdk instance that dmm-stackd runs for every process on the host (the host config has `service:`):
  // sessions are the daemon's, the fd the program's end of one (FdState::service).
  bool served = false;
  std::vector<IpAddress> addresses;  // a served instance's own (IPv4, and IPv6 with address6:)
  // The kernel backend's socket maker for this instance (its namespace, its MPTCP substitution). The shim needs
  // no KernelStack: that one drives connections on an event loop, and the shim only makes sockets.
  std::optional<kernel::InstanceSockets> sockets;
  // Where this instance's sockets come from (setns, dmm-stackd): the shim's, shared by its stacks.
  SocketSources* sources = nullptr;

  // A socket made by this instance would be the placeholder's twin: keep the placeholder instead.
  bool keeps_placeholder(int type) const { return own_namespace && !(mptcp && type == SOCK_STREAM); }
  // A new socket of this instance (SOCK_CLOEXEC and SOCK_NONBLOCK may be or'ed into `type`).
  Result<int> create_socket(int domain, int type, int protocol) const;
  // `count` of them at once (the socket pool's batches; its own thread).
  Result<std::vector<kernel::UniqueFd>> create_sockets(int domain, int type, int protocol, int count) const;
  // In another namespace: made by entering it, or — once this process may not (EPERM) — by dmm-stackd.
  bool in_other_namespace() const { return sockets && sockets->netns_fd() >= 0; }
  // socket() may make a TCP socket here before its destination is known (Shim::predicted_stack): a plain kernel
  // instance in another namespace, where the socket differs from one made at home only by its namespace.
  bool predictable() const { return usable && sockets && !own_namespace && !mptcp && !user_space; }
  // Its sockets can be made in advance (SocketPools): a kernel instance whose sessions get sockets of their own
  // (another namespace, or MPTCP), and only of the default protocol (0, TCP or UDP; MPTCP substitution included).
  bool poolable(int type, int protocol) const {
    return usable && sockets && !user_space && !keeps_placeholder(type) &&
           (protocol == 0 || protocol == (type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP));
  }
};

class Shim {
public:
  const Orchestrator& orchestrator() const { return *orchestrator_; }
  // For the shim's own circuit breaker (race_learning.hpp), which marks stacks down locally.
  Orchestrator& orchestrator() { return *orchestrator_; }
  // Whether the breaker's marks and lifts go to the decision log (off while a forked child drops its parent's
  // marks: that is no news about the stacks).
  void log_local_health(bool on) noexcept { log_local_health_.store(on, std::memory_order_relaxed); }
  const ShimStack& stack(int index) const { return stacks_[static_cast<std::size_t>(index)]; }
  int stack_count() const { return static_cast<int>(stacks_.size()); }
  // The kernel instance of the program's own namespace (plain TCP), or kNoStack: what carries sessions no
  // policy rule matches.
  int own_stack() const { return own_stack_; }
  Intent default_intent() const { return default_intent_; }
  DecisionLog& log() { return log_; }
  // The user-space stacks' runtime; nullptr when the config names none (or they could not start).
  UserStacks* user_stacks() { return user_stacks_.get(); }

  // Placement prediction. Why: a session placed on an instance in another namespace costs a placeholder socket,
  // a second socket and a dup3 — about a quarter of a whole connect+close over a veth. So socket() makes a plain
  // TCP socket directly on the stack that the last connect decision for a TCP socket of its family chose (with
  // the default intent), when that stack is predictable(); a decision that picks the same stack then keeps it
  // as it is. A wrong guess is corrected like any placeholder (re-created on the chosen stack): it costs one
  // namespace switch more than no guess. kNoStack: make the socket in the program's own namespace.
  int predicted_stack(int domain, int type, int protocol) const;
  // A connect decision put a TCP socket of `domain` with intent `intent` on `stack`. True if that predicts the
  // next socket (prediction on, default intent).
  bool remember_tcp_choice(int domain, int intent, int stack);

  // Sockets made in advance (socket_pool.hpp), or nullptr: no stack needs them, DMM_POOL=off, or (DMM_POOL=auto,
  // the default) this process makes its sockets itself. Why only from dmm-stackd: a socket parked by a thread of
  // the program costs the program's thread two calls (dup to the lowest free number, close the parked copy) and
  // the pool's thread four more, in the same process, against two setns — measured on this 2-core machine, no
  // better; one made by dmm-stackd (another process) and fetched in batches costs the program's thread less than
  // making it itself (issue 11's note has the figures).
  SocketPools* pools() { return pools_ && (pool_always_ || sources_->from_service()) ? pools_.get() : nullptr; }
  SocketSources& sources() { return *sources_; }
  // The process changed its credentials (setuid & co.): sockets parked before are the old credentials', and so is
  // the dmm-stackd connection (it was admitted for them); both are made anew.
  void credentials_changed() noexcept {
    if (pools_) pools_->flush();
    sources_->credentials_changed();
  }
  // pthread_atfork child handler (async-signal-safe): the parked sockets and the dmm-stackd connection are the
  // parent's; the child's own are made when it needs them.
  void after_fork_in_child() noexcept {
    if (pools_) pools_->after_fork_in_child();
    sources_->after_fork_in_child();
  }

  // Builds the shim from the environment (DMM_CONFIG, DMM_INTENT, DMM_LOG). On any failure: nullptr, after
  // exactly one warning on stderr; the program then runs without DMM.
  static Shim* create_from_environment();

private:
  Shim() = default;
  // Starts the lwip-dpdk instances on their thread and marks which ShimStacks are usable.
  void start_user_stacks_impl(const std::vector<StackConfig>& configs, std::vector<std::string>& problems);
  std::unique_ptr<Orchestrator> orchestrator_;
  std::atomic<bool> log_local_health_{true};
  std::vector<ShimStack> stacks_;
  int own_stack_ = -1;
  Intent default_intent_ = Intent::default_;
  DecisionLog log_;
  std::unique_ptr<UserStacks> user_stacks_;
  std::unique_ptr<SocketPools> pools_;
  bool pool_always_ = false;  // DMM_POOL=on: also while the process makes its sockets itself
  std::unique_ptr<SocketSources> sources_;
  bool predict_ = true;  // DMM_PREDICT=off turns prediction off (to measure it, or to rule it out)
  std::array<std::atomic<int>, 2> last_tcp_choice_{kNoStack, kNoStack};  // AF_INET, AF_INET6
};

// The shim once started; nullptr before that and in pass-through mode. One atomic load.
Shim* active_shim();
void install_shim(Shim* shim);
// Starts the shim on the first call after the library constructor (shim_init.cpp says why not earlier); then
// the same as active_shim(). Called by socket(): without a socket there is nothing for the shim to do.
Shim* start_shim_if_due();

// One line on stderr, in one write(), prefixed `dmm-preload: `.
void warn(const std::string& what);

// True in a child made by vfork(), clone() or _Fork(), none of which runs pthread_atfork handlers: such a child
// may share the parent's memory (vfork), so it must not touch the fd table. One getpid() call, so it is asked
// only where such children really act between fork and exec: close, dup2/dup3/dup/F_DUPFD on recorded fds.
// (socket/connect/setsockopt in a vfork child are outside what POSIX allows there; the worst they could do is
// leave the parent a record that no longer describes its socket: the identity check or pass-through follows.)
bool in_foreign_child();
// The process that owns the fd table: set at start-up and by the pthread_atfork child handler.
void set_table_owner_pid();
pid_t table_owner_pid();

}  // namespace dmm::preload
