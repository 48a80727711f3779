#include "echo_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <map>
#include <stdexcept>

namespace dmm::test {
namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

Address parse(const std::string& ip, std::uint16_t port) {
  Address a;
  if (ip.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr);
    a.length = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &in->sin_addr);
    a.length = sizeof *in;
  }
  return a;
}

std::string peer_ip(const sockaddr_storage& s) {
  char text[INET6_ADDRSTRLEN] = {};
  if (s.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&s)->sin_addr, text, sizeof text);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&s)->sin6_addr, text, sizeof text);
  return text;
}

int bound_socket(const Address& a, int type) {
  const int fd = socket(a.storage.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw std::runtime_error("echo server: socket failed");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0 ||
      (type == SOCK_STREAM && listen(fd, 64) != 0)) {
    const std::string why = std::strerror(errno);
    close(fd);
    throw std::runtime_error("echo server: bind/listen failed: " + why);
  }
  return fd;
}

}  // namespace

EchoServer::EchoServer(const std::string& netns, const std::vector<std::string>& addresses, std::uint16_t port) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  std::promise<std::string> ready;
  auto started = ready.get_future();
  thread_ = std::thread([&, netns] {
    // This thread lives in the server namespace for good; sockets made here belong to it.
    const int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
      ready.set_value("cannot enter " + netns);
      return;
    }
    close(ns);
    try {
      for (const auto& ip : addresses) {
        tcp_listeners_.push_back(bound_socket(parse(ip, port), SOCK_STREAM));
        udp_sockets_.push_back(bound_socket(parse(ip, port), SOCK_DGRAM));
      }
    } catch (const std::exception& e) {
      ready.set_value(e.what());
      return;
    }
    ready.set_value("");
    serve();
  });
  const std::string error = started.get();
  if (!error.empty()) {
    thread_.join();
    throw std::runtime_error(error);
  }
}

EchoServer::~EchoServer() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  for (int fd : tcp_listeners_) close(fd);
  for (int fd : udp_sockets_) close(fd);
  close(stop_fd_);
}

std::set<std::string> EchoServer::peers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peers_;
}

void EchoServer::serve() {
  std::map<int, bool> connections;  // accepted TCP connections
  for (;;) {
    std::vector<pollfd> fds{{stop_fd_, POLLIN, 0}};
    for (int fd : tcp_listeners_) fds.push_back({fd, POLLIN, 0});
    for (int fd : udp_sockets_) fds.push_back({fd, POLLIN, 0});
    for (const auto& [fd, _] : connections) fds.push_back({fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents) break;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      const int fd = fds[i].fd;
      const bool listener = i <= tcp_listeners_.size();
      const bool udp = !listener && i <= tcp_listeners_.size() + udp_sockets_.size();
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      if (listener) {
        const int c = accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (c < 0) continue;
        connections[c] = true;
        std::lock_guard<std::mutex> lock(mutex_);
        peers_.insert(peer_ip(peer));
      } else if (udp) {
        char buf[2048];
        const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len);
        if (n < 0) continue;
        sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer), len);
        std::lock_guard<std::mutex> lock(mutex_);
        peers_.insert(peer_ip(peer));
      } else {
        char buf[4096];
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
          close(fd);
          connections.erase(fd);
          continue;
        }
        // Blocking write of what we read: test messages are small, the peer is reading.
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = write(fd, buf + off, static_cast<size_t>(n - off));
          if (w < 0 && errno != EAGAIN && errno != EINTR) break;
          if (w > 0) off += w;
        }
      }
    }
  }
  for (const auto& [fd, _] : connections) close(fd);
}

}  // namespace dmm::test
