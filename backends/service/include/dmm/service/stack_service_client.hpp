#pragma once
// The client side of dmm-stackd (backends/service/README.md): asks the host's stack service for sockets made inside
// a stack instance's network namespace, for processes that may not enter it themselves (dropped root: setns needs
// CAP_SYS_ADMIN).
//
// Made for the preload shim, which calls it from inside its socket() and connect() interposers: synchronous, no
// threads, no executor, no global state; every wait bounded by the timeout given to connect() (poll, and
// SO_SNDTIMEO for connect and send); plain libc socket calls (the shim calls it inside its re-entry guard) and
// raw_socket for the one socket it makes. Its connection fd sits high (high_fd_floor()), so programs that dup2 over
// small numbers do not hit it, and is close-on-exec. Nothing is left behind on failure: a failed connect closes its
// socket, a failed request closes every descriptor that arrived. A forked child should not share its parent's
// connection (the daemon judges a connection by the credentials of the process that connected it): it connects
// afresh. Not thread-safe: one call at a time per client (a caller with threads serialises them or keeps a client
// per thread).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"
#include "dmm/service/messages.hpp"

namespace dmm::service {

class StackServiceClient {
public:
  // Connects (blocking, bounded by `timeout`) to the service at `socket_path` and exchanges hellos. ENOENT or
  // ECONNREFUSED: no daemon there; ETIMEDOUT; EPROTONOSUPPORT: no protocol version in common; ECONNREFUSED with the
  // daemon's reason when it refuses the connection (too many peers).
  static Result<StackServiceClient> connect(const std::string& socket_path, std::chrono::milliseconds timeout);

  StackServiceClient(StackServiceClient&&) noexcept = default;
  StackServiceClient& operator=(StackServiceClient&&) noexcept = default;
  StackServiceClient(const StackServiceClient&) = delete;
  StackServiceClient& operator=(const StackServiceClient&) = delete;

  // `count` new sockets (1..64) of (domain, type, protocol) made inside stack `stack`'s namespace, each with
  // FD_CLOEXEC set (MSG_CMSG_CLOEXEC) and SOCK_NONBLOCK if `type` carries it. Errors carry an errno: EACCES (this
  // peer may not use the stack; the message names the uid and the config key), ENOENT (unknown stack), EINVAL
  // (refused kind, bad count or name: checked here before anything is sent), EOPNOTSUPP (a stack the service does
  // not serve: no netns, or not a kernel instance), EPIPE/ECONNRESET (service gone), ETIMEDOUT, EMFILE (the
  // descriptors did not fit under this process's fd limit), EPROTO (the daemon broke the protocol), or socket()'s
  // own errno in the namespace (EAFNOSUPPORT, ENOBUFS, ...).
  Result<std::vector<kernel::UniqueFd>> sockets(std::string_view stack, int domain, int type, int protocol, int count);

  // A session of a user-space stack instance the daemon runs (protocol version 2): the program's end of it, an
  // AF_UNIX SOCK_STREAM socket for TCP, a connected UDP socket (of the instance's datagram namespace in the
  // daemon) for UDP, with FD_CLOEXEC, and O_NONBLOCK if asked. A TCP
  // session is still connecting when this returns: its end becomes writable once the handshake is over, or
  // readable with an error (ECONNRESET) if it failed; status() tells which, and why. Errors as sockets(), plus
  // EOPNOTSUPP from a daemon that speaks version 1 only, and the stack's own immediate error (ENETUNREACH,
  // EHOSTUNREACH: no route) with reason `unreachable`.
  struct Opened {
    kernel::UniqueFd fd;
    std::uint64_t session = 0;
  };
  Result<Opened> open_session(std::string_view stack, L4Proto proto, const Endpoint& destination, bool nonblocking);
  // An unconnected UDP socket on a user-space instance the daemon runs (protocol version 2): a real UDP socket
  // bound to `local` (the any address or the instance's; port 0: the instance picks), sending to and receiving
  // from any peer through the instance. `first_destination` (a client's first sendto) is checked for a route:
  // ENETUNREACH with reason `unreachable` without one.
  Result<Opened> bind_datagram(std::string_view stack, const Endpoint& local, bool nonblocking, bool v6only = false,
                               const std::optional<Endpoint>& first_destination = std::nullopt);
  // A listener on a user-space instance the daemon runs (protocol version 2): an AF_UNIX stream listener (with
  // FD_CLOEXEC, O_NONBLOCK if asked) whose connections are the instance's, each starting with an AcceptedHeader.
  struct Listening {
    kernel::UniqueFd fd;
    std::uint64_t listener = 0;
    Endpoint local;  // as bound on the instance
  };
  Result<Listening> listen(std::string_view stack, const Endpoint& local, bool nonblocking, bool v6only = false);
  // Where session `session` stands (any session opened by a process of the same user, or by anyone for root).
  Result<StatusReply> status(std::uint64_t session);
  std::uint8_t version() const { return version_; }

  int fd() const { return fd_.get(); }  // the connection's fd (the shim keeps it high and closes it in fork children)
  // Forgets the connection's fd without closing it: a fork child closes its copy itself (async-signal-safe, no
  // destructor in the atfork handler) and must never close that number again once the program may reuse it.
  // Every later request fails (EBADF); destroy the client and connect anew.
  void forget_connection() noexcept { (void)fd_.release(); }

private:
  StackServiceClient(kernel::UniqueFd fd, std::string socket_path, std::chrono::milliseconds timeout,
                     std::uint8_t version)
      : fd_(std::move(fd)), socket_path_(std::move(socket_path)), timeout_(timeout), version_(version) {}
  std::uint32_t take_id();
  // A request about a user-space instance: a stack name that can be sent, and a daemon that speaks version 2.
  Status check_user_space_request(std::string_view stack) const;
  // Sends `request` and waits for its answer (the message with its id; stale answers of earlier requests that timed
  // out are skipped and their descriptors closed); `fds` gets the answer's descriptors.
  Result<Message> exchange(const Message& request, std::uint32_t id, std::vector<kernel::UniqueFd>& fds);

  kernel::UniqueFd fd_;
  std::string socket_path_;  // for messages
  std::chrono::milliseconds timeout_;  // of each request, as of connect
  std::uint32_t next_id_ = 1;
  std::uint8_t version_ = 1;  // as the welcome chose
};

}  // namespace dmm::service
