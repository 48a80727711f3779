#include "sockaddr_view.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace dmm::preload {

std::optional<Endpoint> endpoint_of(const sockaddr* addr, socklen_t length) {
  if (!addr) return std::nullopt;
  if (addr->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in{};
    std::memcpy(&in, addr, sizeof in);  // the caller's buffer need not be aligned for sockaddr_in
    return Endpoint{IpAddress::v4(ntohl(in.sin_addr.s_addr)), ntohs(in.sin_port)};
  }
  if (addr->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, addr, sizeof in6);
    Endpoint e;
    e.port = ntohs(in6.sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      std::uint32_t v4 = 0;
      std::memcpy(&v4, &in6.sin6_addr.s6_addr[12], 4);
      e.address = IpAddress::v4(ntohl(v4));
    } else {
      e.address.family = IpFamily::v6;
      std::memcpy(e.address.bytes.data(), in6.sin6_addr.s6_addr, 16);
    }
    return e;
  }
  return std::nullopt;
}

BoundAddress bound_address_of(int fd) {
  BoundAddress b;
  socklen_t len = sizeof b.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&b.storage), &len) != 0) return {};
  const std::optional<Endpoint> e = endpoint_of(reinterpret_cast<sockaddr*>(&b.storage), len);
  if (!e) return {};
  const bool any_address = e->address == IpAddress{e->address.family, {}};
  // IPv4-mapped any (::ffff:0.0.0.0) does not occur for an unbound socket; `::` with port 0 does.
  if (any_address && e->port == 0) return {};
  b.length = len;
  return b;
}

}  // namespace dmm::preload
