#pragma once
// Socket addresses as the policy sees them. IPv4-mapped IPv6 destinations (`::ffff:10.1.2.3`, what a dual-stack
// AF_INET6 socket uses to reach an IPv4 peer) are matched as the IPv4 address they are.
#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>

#include "dmm/address.hpp"

namespace dmm::preload {

// The endpoint of an AF_INET/AF_INET6 address; nullopt for other families, AF_UNSPEC (UDP "disconnect") and
// short lengths.
std::optional<Endpoint> endpoint_of(const sockaddr* addr, socklen_t length);

// A bound local address worth replaying on a re-created socket: anything but the unbound `any:0`.
struct BoundAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  bool bound() const { return length != 0; }
};
BoundAddress bound_address_of(int fd);  // getsockname is not interposed: libc's own

}  // namespace dmm::preload
