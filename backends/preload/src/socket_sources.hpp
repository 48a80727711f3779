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

  // `count` sockets of `stack` (a kernel instance; SOCK_NONBLOCK/SOCK_CLOEXEC may be or'ed into `type`).
  Result<std::vector<kernel::UniqueFd>> make(const ShimStack& stack, int domain, int type, int protocol, int count);

  // Sockets of other namespaces come from dmm-stackd now: the socket pool pays for itself.
  bool from_service() const {
    return service_ && (setns_refused_.load(std::memory_order_relaxed) || !service_down_.load(std::memory_order_relaxed));
  }
  bool setns_refused() const { return setns_refused_.load(std::memory_order_relaxed); }

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
};

}  // namespace dmm::preload
