#pragma once
// Where this process gets the sockets of kernel instances in other network namespaces (DESIGN.md §2.4):
//  - from dmm-stackd when the host config names it (`service:`), for every process, root included. Why root too:
//    measured on this 2-core machine (dmm-bench kernel, issue 11's note), a socket made in another process and
//    handed over in batches (through the socket pool) costs the program's thread less than making it itself with
//    two setns — connect+close at 0.82x the plain time against 1.31x;
//  - by entering the namespace (setns) when there is no service, or when it does not answer and the process may;
//  - for a process that may not enter it (dropped root: EPERM), only from dmm-stackd — or not at all, with an
//    error that says what to configure.
#include <atomic>
#include <memory>
#include <vector>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"
#include "service_link.hpp"

namespace dmm::preload {

struct ShimStack;

class SocketSources {
public:
  explicit SocketSources(std::unique_ptr<ServiceLink> service) : service_(std::move(service)) {}
  SocketSources(const SocketSources&) = delete;
  SocketSources& operator=(const SocketSources&) = delete;

  // `count` sockets of `stack` (a kernel instance; SOCK_NONBLOCK/SOCK_CLOEXEC may be or'ed into `type`). May ask
  // dmm-stackd (a round trip, bounded): decisions and the pool's thread only.
  Result<std::vector<kernel::UniqueFd>> make(const ShimStack& stack, int domain, int type, int protocol, int count);

  // One socket for a socket() call that predicted `stack`, or -1: then socket() makes its placeholder at home and
  // the decision puts it on the stack. Never asks dmm-stackd and allocates nothing when it succeeds: socket() is
  // async-signal-safe and may run in a signal handler. -1 also when sockets come from dmm-stackd (the socket pool
  // had none ready) — the decision fetches one.
  int make_for_socket_call(const ShimStack& stack, int domain, int type, int protocol) noexcept;

  // The process changed its credentials: the dmm-stackd connection is made anew (the pool is flushed by the
  // caller), and setns may be refused from now on.
  void credentials_changed() noexcept {
    if (service_) service_->credentials_changed();
  }

  // Sockets of other namespaces come from dmm-stackd now: the socket pool pays for itself.
  bool from_service() const {
    return service_ && (setns_refused_.load(std::memory_order_relaxed) || !service_down_.load(std::memory_order_relaxed));
  }
  bool setns_refused() const { return setns_refused_.load(std::memory_order_relaxed); }

  // The dmm-stackd connection (nullptr without `service:`): also where sessions of user-space instances come from.
  ServiceLink* service() const { return service_.get(); }

  // pthread_atfork child handler (async-signal-safe): the dmm-stackd connection is the parent's.
  void after_fork_in_child() noexcept {
    if (service_) service_->after_fork_in_child();
  }

private:
  Result<std::vector<kernel::UniqueFd>> by_setns(const ShimStack& stack, int domain, int type, int protocol, int count);
  Result<std::vector<kernel::UniqueFd>> by_service(const ShimStack& stack, int domain, int type, int protocol,
                                                   int count);

  std::unique_ptr<ServiceLink> service_;
  std::atomic<bool> setns_refused_{false};  // sticky: privileges dropped are not regained without exec
  std::atomic<bool> service_down_{false};   // dmm-stackd did not answer this process: it makes its own
  // A process that may not make its own: after dmm-stackd did not answer, calls fail at once for a while instead of
  // each waiting for the connection timeout again (a program's connects must not pile up behind a dead daemon).
  std::atomic<long long> unreachable_until_ms_{0};
};

}  // namespace dmm::preload
