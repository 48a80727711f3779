#pragma once
// TCP and UDP echo servers inside a test namespace, served by one thread of the test process that entered that
// namespace (setns moves only the calling thread). Each server records the peer addresses it saw, so a test can
// tell over which instance (blue 10.232.1.2, red 10.232.2.2) a session arrived.
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace dmm::test {

class EchoServer {
public:
  // Listens on every `address` (IPv4 or IPv6 literal) at `port`, TCP and UDP. Throws if the namespace or a bind
  // fails. Returns once everything is listening.
  EchoServer(const std::string& netns, const std::vector<std::string>& addresses, std::uint16_t port);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  // Peer IP addresses seen so far (TCP accepts and UDP datagrams).
  std::set<std::string> peers() const;

private:
  void serve();

  std::vector<int> tcp_listeners_;
  std::vector<int> udp_sockets_;
  int stop_fd_ = -1;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::set<std::string> peers_;
};

}  // namespace dmm::test
