#include "bench_servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/sys_error.hpp"

namespace dmm::bench {
namespace {

bool write_all(int fd, const char* data, std::size_t length) {
  while (length > 0) {
    const ssize_t n = ::send(fd, data, length, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    length -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<BenchServer>> BenchServer::start(ServerKind kind, const std::string& netns_path,
                                                        const std::string& address, std::uint16_t port) {
  auto factory = kernel::NetnsSocketFactory::open_path(netns_path, netns_path);
  if (!factory) return factory.error();
  auto made = factory->socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!made) return made.error();
  kernel::UniqueFd listener = std::move(*made);
  const int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sin.sin_addr) != 1)
    return make_error(EINVAL, "not an IPv4 address: " + address);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
    return kernel::last_sys_error("bind " + address + ":" + std::to_string(port));
  // A deep backlog: the connect-rate client must never wait for the server to catch up on accepts.
  if (::listen(listener.get(), 4096) != 0) return kernel::last_sys_error("listen");
  return std::unique_ptr<BenchServer>(new BenchServer(kind, listener.release(), port));
}

BenchServer::BenchServer(ServerKind kind, int listener, std::uint16_t port)
    : kind_(kind), listener_(listener), port_(port), thread_([this] { serve(); }) {}

BenchServer::~BenchServer() {
  stopping_.store(true);
  // shutdown() wakes a thread blocked in accept() or read() on these sockets (close() would not).
  ::shutdown(listener_, SHUT_RDWR);
  if (const int fd = current_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  thread_.join();
  ::close(listener_);
}

void BenchServer::serve() {
  while (!stopping_.load()) {
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    if (kind_ == ServerKind::accept_close) {
      ::close(fd);
      continue;
    }
    current_.store(fd);
    if (stopping_.load()) ::shutdown(fd, SHUT_RDWR);  // stop raced with accept: do not block in it
    serve_connection(fd);
    current_.store(-1);
    ::close(fd);
  }
}

void BenchServer::serve_connection(int fd) {
  std::vector<char> buffer(256 * 1024);
  std::uint64_t received = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    received += static_cast<std::uint64_t>(n);
    if (kind_ == ServerKind::echo && !write_all(fd, buffer.data(), static_cast<std::size_t>(n))) return;
  }
  if (kind_ == ServerKind::sink) write_all(fd, reinterpret_cast<const char*>(&received), sizeof received);
}

}  // namespace dmm::bench
