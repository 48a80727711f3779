#pragma once
// dmm::Endpoint <-> struct sockaddr, IPv4 and IPv6.
#include <sys/socket.h>

#include "dmm/address.hpp"
#include "dmm/result.hpp"

namespace dmm::kernel {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

SocketAddress to_socket_address(const Endpoint& endpoint);
// EAFNOSUPPORT for anything but AF_INET / AF_INET6 (an IPv4-mapped IPv6 address stays IPv6).
Result<Endpoint> to_endpoint(const sockaddr* address, socklen_t length);
int address_family(const IpAddress& address);  // AF_INET or AF_INET6

}  // namespace dmm::kernel
