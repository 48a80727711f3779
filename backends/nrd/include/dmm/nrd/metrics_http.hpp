#pragma once
// A minimal HTTP/1.1 server for one resource: `GET /metrics` answers the text `render()` returns (Prometheus
// format), anything else 404/405. Bounded against misbehaving clients: a request head of at most 8 KiB, 5 s to
// send it, 16 connections at once; each connection answers one request and closes. Runs on the EpollExecutor.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "dmm/address.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"

namespace dmm::nrd {

class MetricsHttpServer {
public:
  static Result<std::unique_ptr<MetricsHttpServer>> create(const Endpoint& on, kernel::EpollExecutor& executor,
                                                           std::function<std::string()> render);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }  // with the port the kernel chose for port 0
  std::uint64_t requests() const { return requests_; }
  std::uint64_t refused() const { return refused_; }       // over the connection limit, too large, too slow

  static constexpr std::size_t kMaxHeadBytes = 8192;
  static constexpr std::size_t kMaxConnections = 16;
  static constexpr Duration kRequestTimeout = std::chrono::seconds(5);

private:
  struct Client {
    kernel::UniqueFd fd;
    std::string in;
    std::string out;
    std::size_t written = 0;
    TimerId deadline = 0;
  };
  MetricsHttpServer(kernel::UniqueFd fd, Endpoint endpoint, kernel::EpollExecutor& executor,
                    std::function<std::string()> render);
  void on_accept();
  void on_client(int fd, std::uint32_t events);
  void respond(Client& client, const std::string& status, const std::string& content_type, const std::string& body);
  void drop(int fd);

  kernel::UniqueFd listener_;
  Endpoint endpoint_;
  kernel::EpollExecutor& executor_;
  std::function<std::string()> render_;
  std::map<int, Client> clients_;
  std::uint64_t requests_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace dmm::nrd
