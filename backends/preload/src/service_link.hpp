#pragma once
// This process's connection to dmm-stackd (backends/service): where sockets of kernel instances in other
// namespaces come from once the process may not enter them itself (setns needs CAP_SYS_ADMIN; nginx's workers and
// every privilege-separated daemon drop it). DESIGN.md §2.4.
//
// One connection per process, made on first use: dmm-stackd admits a connection by the credentials of the process
// that made it, so a forked child (an nginx worker that is about to drop root) must not speak on its parent's — it
// closes its copy (after_fork_in_child) and connects anew, as itself, when it first needs a socket. Calls are
// serialised by a spinlock owned by a thread token (fd_table.hpp): a signal handler that interrupts a call on the
// same thread is refused (EWOULDBLOCK) instead of deadlocking.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"
#include "dmm/service/stack_service_client.hpp"

namespace dmm::preload {

class ServiceLink {
public:
  explicit ServiceLink(std::string socket_path) : path_(std::move(socket_path)) {}
  ServiceLink(const ServiceLink&) = delete;
  ServiceLink& operator=(const ServiceLink&) = delete;

  const std::string& path() const { return path_; }

  // `count` sockets of `stack` (close-on-exec; SOCK_NONBLOCK as `type` says) from dmm-stackd. A call that finds
  // the service gone reconnects once. Errors carry the client's errno (EACCES: this uid may not use the stack).
  Result<std::vector<kernel::UniqueFd>> sockets(std::string_view stack, int domain, int type, int protocol, int count);

  // pthread_atfork child handler (async-signal-safe): closes this process's copy of the parent's connection.
  void after_fork_in_child() noexcept;

private:
  std::string path_;
  std::atomic<std::uintptr_t> owner_{0};
  std::optional<service::StackServiceClient> client_;  // guarded by owner_
  bool stale_ = false;  // client_ is a fork parent's, its fd already closed here: drop it before use
};

}  // namespace dmm::preload
