#pragma once
// A listener of a user-space instance that dmm-stackd runs, as a program sees it: an AF_UNIX stream listener (a
// real kernel fd: accept, poll, epoll, fork and exec work on it unchanged — nginx's workers share it), bound to an
// abstract name in the daemon's namespace. For each connection the instance accepts, the daemon connects to that
// name, writes an AcceptedHeader (the session's addresses, for the shim's accept()) and pumps the connection like
// any session. The program owns the listener: when it has closed every copy, the name is gone — connecting fails,
// sock_diag no longer finds the socket — and the instance's listener closes.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/stack.hpp"

namespace dmm::service {

class ServiceListener final : public AcceptEvents {
public:
  // A connection the instance accepted, already connected to the program's listener (`ours` is the daemon's end,
  // the header written): the caller pumps it.
  using Accepted =
      std::function<void(std::uint64_t session, std::unique_ptr<Connection> connection, kernel::UniqueFd ours)>;

  // Listens on `stack` at `local`; `program_end` is the listener to hand over (non-blocking if asked).
  static Result<std::unique_ptr<ServiceListener>> open(std::uint64_t id, Stack& stack, const Endpoint& local,
                                                       bool nonblocking, bool v6only, Accepted accepted);
  ~ServiceListener() override;
  ServiceListener(const ServiceListener&) = delete;
  ServiceListener& operator=(const ServiceListener&) = delete;

  int program_end() const { return program_.get(); }
  void program_end_sent() { program_.reset(); }
  ino_t inode() const { return inode_; }
  const Endpoint& local() const { return local_; }
  bool closed() const { return closed_; }
  // The program has closed its last copy: the instance's listener closes.
  void close();
  // The session id the next accepted connection gets (set by the host before it is called).
  std::function<std::uint64_t()> next_session_id;

  void on_accept(std::unique_ptr<Connection> connection) override;

private:
  ServiceListener() = default;

  std::unique_ptr<Listener> listener_;
  kernel::UniqueFd program_;
  std::string name_;  // the abstract address, without its leading NUL
  ino_t inode_ = 0;
  Endpoint local_;
  Accepted accepted_;
  bool closed_ = false;
};

// Whether the AF_UNIX socket with inode `ino` still exists in the caller's namespace (sock_diag over `diag_fd`, a
// NETLINK_SOCK_DIAG socket); true when it cannot tell.
bool unix_socket_exists(int diag_fd, ino_t ino);

}  // namespace dmm::service
