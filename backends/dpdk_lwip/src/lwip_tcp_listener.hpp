#pragma once
// A TCP listener of an lwip-dpdk instance: a listening pcb pinned to the instance's netif. Each accepted pcb
// becomes an LwipTcpConnection handed to AcceptEvents from an executor task (never from inside lwIP).
#include <lwip/tcp.h>

#include <memory>

#include "dmm/stack.hpp"
#include "lwip_interface.hpp"
#include "lwip_tcp_connection.hpp"

namespace dmm::lwip_dpdk {

class LwipTcpListener final : public Listener {
public:
  // Binds `on` (the unspecified address: the instance's own) and listens. EADDRINUSE, EAFNOSUPPORT, ENOMEM.
  static Result<std::unique_ptr<LwipTcpListener>> create(LwipInterface& interface, Executor& executor,
                                                         const Endpoint& on, AcceptEvents& events,
                                                         TcpOptions options, bool v6only = false);
  ~LwipTcpListener() override;  // close()
  LwipTcpListener(const LwipTcpListener&) = delete;
  LwipTcpListener& operator=(const LwipTcpListener&) = delete;

  void close() override;
  std::optional<Endpoint> local_endpoint() const override;
  std::uint16_t port() const { return port_; }

private:
  LwipTcpListener(tcp_pcb* pcb, LwipInterface& interface, Executor& executor, AcceptEvents& events,
                  TcpOptions options);
  static err_t on_accept(void* arg, tcp_pcb* pcb, err_t err);

  tcp_pcb* pcb_;
  LwipInterface& interface_;
  Executor& executor_;
  AcceptEvents& events_;
  TcpOptions options_;
  std::uint16_t port_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dmm::lwip_dpdk
