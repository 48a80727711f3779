#pragma once
// A UDP echo server for dmm-bench's udp suite: every datagram goes back to where it came from, from a thread of
// this process, on a socket made inside a lab namespace (as BenchServer's TCP ones).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "dmm/result.hpp"

namespace dmm::bench {

class UdpEchoServer {
public:
  // Bound to `address`:`port` (IPv4) inside the namespace file `netns_path`.
  static Result<std::unique_ptr<UdpEchoServer>> start(const std::string& netns_path, const std::string& address,
                                                      std::uint16_t port);
  ~UdpEchoServer();  // stops: shutdown() wakes the blocked recvfrom, then the thread is joined
  UdpEchoServer(const UdpEchoServer&) = delete;
  UdpEchoServer& operator=(const UdpEchoServer&) = delete;

private:
  explicit UdpEchoServer(int fd) : fd_(fd), thread_([this] { serve(); }) {}
  void serve();

  int fd_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace dmm::bench
