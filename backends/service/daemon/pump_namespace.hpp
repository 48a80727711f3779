#pragma once
// A private network namespace of dmm-stackd's where the program ends of user-space UDP sessions live. A UDP
// session is a pair of real UDP sockets in it: the program's, bound to the session's local address and port on
// the user-space instance and connected to its peer; the daemon's, bound to the peer's address and connected
// back. So the program's fd is a real connected UDP socket — recvmsg, recvmmsg and raw system calls report the
// real peer as the source (libuv, BIND's dig check it), getpeername and SO_ERROR are the kernel's — and the
// daemon moves its datagrams to and from the instance. Any address is local in the namespace (a `local` route
// for 0.0.0.0/0 and ::/0 on lo, AnyIP), so both ends can bind to whatever addresses the session has; nothing in
// it reaches any network.
//
// A UDP socket does not tell its peer when it is closed, so the daemon asks the kernel (sock_diag, by the
// socket's 4-tuple and cookie) whether the program's socket still exists.
#include <cstdint>

#include "dmm/address.hpp"
#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::service {

class PumpNamespace {
public:
  // unshare(CLONE_NEWNET) on the calling thread, lo up, AnyIP routes (via `ip`), back home. Needs CAP_SYS_ADMIN.
  static Result<PumpNamespace> create();

  struct UdpPair {
    kernel::UniqueFd program;  // bound to `local`, connected to `peer`; blocking unless asked
    kernel::UniqueFd ours;     // bound to `peer`, connected to `local`; non-blocking
    std::uint64_t program_cookie = 0;
  };
  Result<UdpPair> udp_pair(const Endpoint& local, const Endpoint& peer, bool nonblocking) const;

  // Whether the program's socket of a pair still exists (some process holds it); true when it cannot tell.
  bool udp_socket_alive(const Endpoint& local, const Endpoint& peer, std::uint64_t cookie) const;

private:
  explicit PumpNamespace(kernel::NetnsSocketFactory sockets, kernel::UniqueFd diag)
      : sockets_(std::move(sockets)), diag_(std::move(diag)) {}

  kernel::NetnsSocketFactory sockets_;
  kernel::UniqueFd diag_;  // NETLINK_SOCK_DIAG inside the namespace
};

}  // namespace dmm::service
