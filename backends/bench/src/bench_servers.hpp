#pragma once
// The far end of the TCP benchmarks: one thread per server, serving one connection at a time (each benchmark
// client opens its connections one after the other). Its listening socket is made inside the server namespace;
// the thread itself can run anywhere (a socket keeps the namespace it was made in).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "dmm/result.hpp"

namespace dmm::bench {

enum class ServerKind {
  echo,          // writes back every byte it reads (ping-pong)
  sink,          // reads to EOF, then answers the byte count as 8 bytes and closes (bulk)
  accept_close,  // closes every connection as soon as it is accepted (connect rate)
};

class BenchServer {
public:
  // Listens on `address`:`port` (IPv4) inside the namespace file `netns_path`.
  static Result<std::unique_ptr<BenchServer>> start(ServerKind kind, const std::string& netns_path,
                                                    const std::string& address, std::uint16_t port);
  ~BenchServer();  // stops: wakes the thread (shutdown on its sockets) and joins it
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  std::uint16_t port() const { return port_; }

private:
  BenchServer(ServerKind kind, int listener, std::uint16_t port);
  void serve();
  void serve_connection(int fd);

  ServerKind kind_;
  int listener_;
  std::uint16_t port_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> current_{-1};  // the connection being served, so that stop can wake a blocked read
  std::thread thread_;
};

}  // namespace dmm::bench
