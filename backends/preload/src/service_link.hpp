#pragma once
// This process's connection to dmm-stackd (backends/service): where sockets of kernel instances in other
// namespaces come from (socket_sources.hpp). DESIGN.md §2.4.
//
// One connection per process and set of credentials, made on first use: dmm-stackd admits a connection by the
// credentials of the process that made it (SO_PEERCRED at connect), so
//  - a forked child (an nginx worker about to drop root) must not speak on its parent's: it closes its copy
//    (after_fork_in_child) and connects anew, as itself, when it first needs a socket;
//  - a process that changes its credentials (setuid after binding, as haproxy does) connects anew too: each call
//    compares the effective uid/gid with those the connection was made with.
// Calls are serialised by a mutex; a signal handler that interrupts a call on the same thread is refused
// (EWOULDBLOCK) instead of deadlocking.
#include <pthread.h>
#include <sys/types.h>

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

  // What a failed call was: the service could not be reached (not running, gone, timed out, not itself), or it
  // answered with a refusal (EACCES, an unknown stack, socket()'s own errno inside the namespace).
  enum class Failure { none, unreachable, refused, busy };

  // `count` sockets of `stack` (close-on-exec; SOCK_NONBLOCK as `type` says) from dmm-stackd. A call that finds
  // the connection gone reconnects once. Errors carry the client's errno.
  Result<std::vector<kernel::UniqueFd>> sockets(std::string_view stack, int domain, int type, int protocol, int count,
                                                Failure& failure);

  // A session of a user-space instance that dmm-stackd runs (its end for the program, still connecting for TCP),
  // and where a session stands. As sockets(): one reconnect when the connection is found gone.
  Result<service::StackServiceClient::Opened> open_session(std::string_view stack, L4Proto proto,
                                                           const Endpoint& destination, bool nonblocking,
                                                           Failure& failure);
  Result<service::StatusReply> status(std::uint64_t session, Failure& failure);
  Result<service::StackServiceClient::Listening> listen(std::string_view stack, const Endpoint& local,
                                                        bool nonblocking, bool v6only, Failure& failure);
  Result<service::StackServiceClient::Opened> bind_datagram(std::string_view stack, const Endpoint& local,
                                                            bool nonblocking, bool v6only,
                                                            const std::optional<Endpoint>& first_destination,
                                                            Failure& failure);

  // pthread_atfork child handler (async-signal-safe): closes this process's copy of the parent's connection (if
  // the number still is it) and releases a lock a parent thread held.
  void after_fork_in_child() noexcept;

  // The process changed its credentials (setuid, setgroups, ...): the next call connects anew, as it is now.
  void credentials_changed() noexcept { credentials_changed_.store(true, std::memory_order_release); }

private:
  // Runs `request(client)` on this process's connection (made first if needed, once more if it broke).
  template <typename Request>
  auto call(Request&& request, Failure& failure) -> decltype(request(std::declval<service::StackServiceClient&>()));

  std::string path_;
  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<std::uintptr_t> holder_{0};               // the thread token of the caller inside, for re-entry
  std::optional<service::StackServiceClient> client_;  // guarded by mutex_
  uid_t client_uid_ = 0;                                // guarded by mutex_: credentials at its connect
  gid_t client_gid_ = 0;
  bool stale_ = false;  // guarded by mutex_: client_ is a fork parent's, its fd closed here: drop it first
  std::atomic<bool> credentials_changed_{false};
  // The connection as a fork child must find it (read without the mutex, which a parent thread may hold).
  std::atomic<int> connection_fd_{-1};
  std::atomic<dev_t> connection_dev_{0};
  std::atomic<ino_t> connection_ino_{0};
};

}  // namespace dmm::preload
