#pragma once
// An unconnected UDP socket on an lwip-dpdk instance (datagram_socket.hpp): one udp_pcb bound to a port, sending to
// whatever each datagram names and receiving from anyone, with each datagram's source kept for receive_from.
// dmm-stackd serves a program's unconnected UDP socket, or a UDP server, with one.
#include <lwip/udp.h>

#include <memory>

#include "dmm/datagram_socket.hpp"
#include "dmm/stack.hpp"
#include "event_mailbox.hpp"
#include "lwip_interface.hpp"
#include "lwip_udp.hpp"

namespace dmm::lwip_dpdk {

class LwipDatagramSocket final : public DatagramSocket {
public:
  // EADDRNOTAVAIL for a local address that is neither the any address nor the instance's, EADDRINUSE for a port
  // another socket of the instance holds, ENETUNREACH for a peer without a route.
  static Result<std::unique_ptr<LwipDatagramSocket>> open(LwipInterface& interface, Executor& executor,
                                                          const DatagramOptions& options, ConnectionEvents& events);
  ~LwipDatagramSocket() override;
  LwipDatagramSocket(const LwipDatagramSocket&) = delete;
  LwipDatagramSocket& operator=(const LwipDatagramSocket&) = delete;

  void set_events(ConnectionEvents& events) override { mailbox_->set_sink(&events); }
  Status send_to(const Endpoint& to, std::span<const std::byte> data) override;
  Result<Received> receive_from(std::span<std::byte> buffer) override;
  Endpoint local_endpoint() const override { return local_; }
  ConnectionMetrics metrics() const override { return metrics_; }
  void close() override;

private:
  LwipDatagramSocket(udp_pcb* pcb, LwipInterface& interface, Executor& executor);
  static void on_recv(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* address, u16_t port);

  udp_pcb* pcb_;
  LwipInterface& interface_;
  std::shared_ptr<EventMailbox> mailbox_;
  DatagramQueue queue_;
  Endpoint local_;
  ConnectionMetrics metrics_;
};

}  // namespace dmm::lwip_dpdk
