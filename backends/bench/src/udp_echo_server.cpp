#include "udp_echo_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/sys_error.hpp"

namespace dmm::bench {

Result<std::unique_ptr<UdpEchoServer>> UdpEchoServer::start(const std::string& netns_path,
                                                            const std::string& address, std::uint16_t port) {
  auto factory = kernel::NetnsSocketFactory::open_path(netns_path, netns_path);
  if (!factory) return factory.error();
  auto made = factory->socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (!made) return made.error();
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sin.sin_addr) != 1)
    return make_error(EINVAL, "not an IPv4 address: " + address);
  if (::bind(made->get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
    return kernel::last_sys_error("bind " + address + ":" + std::to_string(port) + "/udp");
  return std::unique_ptr<UdpEchoServer>(new UdpEchoServer(made->release()));
}

UdpEchoServer::~UdpEchoServer() {
  stopping_.store(true);
  ::shutdown(fd_, SHUT_RDWR);  // wakes recvfrom (close would not)
  thread_.join();
  ::close(fd_);
}

void UdpEchoServer::serve() {
  char buffer[65536];
  while (!stopping_.load()) {
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    const ssize_t n = ::recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (stopping_.load() || length == 0) return;  // woken by shutdown
    (void)::sendto(fd_, buffer, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), length);
  }
}

}  // namespace dmm::bench
