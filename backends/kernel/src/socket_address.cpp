#include "dmm/kernel/socket_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace dmm::kernel {

int address_family(const IpAddress& address) { return address.family == IpFamily::v4 ? AF_INET : AF_INET6; }

SocketAddress to_socket_address(const Endpoint& endpoint) {
  SocketAddress out;
  if (endpoint.address.family == IpFamily::v4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(endpoint.port);
    std::memcpy(&in->sin_addr, endpoint.address.bytes.data(), 4);
    out.length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(endpoint.port);
    std::memcpy(&in6->sin6_addr, endpoint.address.bytes.data(), 16);
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

Result<Endpoint> to_endpoint(const sockaddr* address, socklen_t length) {
  Endpoint out;
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in;
    std::memcpy(&in, address, sizeof in);
    out.address.family = IpFamily::v4;
    std::memcpy(out.address.bytes.data(), &in.sin_addr, 4);
    out.port = ntohs(in.sin_port);
    return out;
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6;
    std::memcpy(&in6, address, sizeof in6);
    out.address.family = IpFamily::v6;
    std::memcpy(out.address.bytes.data(), &in6.sin6_addr, 16);
    out.port = ntohs(in6.sin6_port);
    return out;
  }
  return make_error(EAFNOSUPPORT, "not an IPv4 or IPv6 socket address");
}

}  // namespace dmm::kernel
