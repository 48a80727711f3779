#pragma once
// A TCP session of an lwip-dpdk instance, on lwIP's raw API: the pcb is pinned to the instance's netif
// (tcp_bind_netif), received data stays in lwIP's pbufs until the application reads it (the receive window
// closes meanwhile, as a kernel socket's does), and lwIP's callbacks reach the application through an
// EventMailbox. All calls on the executor's thread.
//
// Metrics: RTT is the handshake's (SYN to SYN-ACK, timed on the executor) until lwIP's own estimator has a
// value: that one counts in 500 ms ticks (TCP_SLOW_INTERVAL), too coarse for a LAN. Retransmits count lwIP's
// timeout retransmissions (pcb->nrtx); its fast retransmits are not visible through the raw API.
#include <lwip/tcp.h>

#include <memory>
#include <optional>

#include "dmm/stack.hpp"
#include "event_mailbox.hpp"
#include "lwip_interface.hpp"

namespace dmm::lwip_dpdk {

struct TcpOptions {
  // Like TCP_USER_TIMEOUT: a connection whose sent data sees no acknowledgement for this long fails with
  // ETIMEDOUT (lwIP would otherwise retransmit for minutes: a path that went down must fail, not hang).
  Duration user_timeout = std::chrono::seconds(30);
};

class LwipTcpConnection final : public Connection {
public:
  // Starts a connect; on_connected or on_failed follows. Immediate errors: ENETUNREACH (no route on this
  // instance), ENOMEM.
  static Result<std::unique_ptr<LwipTcpConnection>> connect(LwipInterface& interface, Executor& executor,
                                                            const Endpoint& to, TcpOptions options);
  // An established pcb from a listener.
  static std::unique_ptr<LwipTcpConnection> adopt(tcp_pcb* pcb, LwipInterface& interface, Executor& executor,
                                                  TcpOptions options);
  ~LwipTcpConnection() override;  // close()
  LwipTcpConnection(const LwipTcpConnection&) = delete;
  LwipTcpConnection& operator=(const LwipTcpConnection&) = delete;

  void set_events(ConnectionEvents& events) override { mailbox_->set_sink(&events); }
  Result<std::size_t> send(std::span<const std::byte> data) override;
  Result<std::size_t> receive(std::span<std::byte> buffer) override;
  void shutdown_write() override;
  void close() override;
  ConnectionMetrics metrics() const override;

  bool set_nodelay(bool on) override;
  std::optional<Endpoint> local_endpoint() const override { return local_; }
  Endpoint remote() const { return remote_; }
  std::optional<Endpoint> remote_endpoint() const override { return remote_; }

  // How long a connection waits for its next hop to answer ARP before EHOSTUNREACH (the kernel's default: 3
  // unicast/multicast solicitations 1 s apart). Checked on lwIP's 500 ms poll, so it fires within 3-3.5 s.
  static constexpr std::chrono::milliseconds kNeighbourTimeout{3000};

private:
  LwipTcpConnection(tcp_pcb* pcb, LwipInterface& interface, Executor& executor, TcpOptions options, bool connected);
  void attach_callbacks();
  void detach_pcb();  // callbacks off; pcb no longer ours
  void fail(Error error);
  void count_retransmits();

  static err_t on_connected(void* arg, tcp_pcb* pcb, err_t err);
  static err_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
  static err_t on_sent(void* arg, tcp_pcb* pcb, u16_t length);
  static err_t on_poll(void* arg, tcp_pcb* pcb);
  static void on_err(void* arg, err_t err);

  tcp_pcb* pcb_;
  LwipInterface& interface_;
  Executor& executor_;
  TcpOptions options_;
  std::shared_ptr<EventMailbox> mailbox_;
  bool connected_ = false;
  bool closed_ = false;
  bool write_shut_ = false;
  bool peer_closed_ = false;
  bool want_writable_ = false;
  std::optional<Error> error_;
  pbuf* received_ = nullptr;       // data not read yet (lwIP's pbufs, in order)
  TimePoint connect_started_{};
  TimePoint last_progress_{};      // connect, or the last acknowledgement of sent data
  Duration handshake_rtt_{0};
  std::uint8_t last_nrtx_ = 0;
  Endpoint local_, remote_;
  ConnectionMetrics metrics_;
};

// lwIP's err_t as the errno a kernel socket would report, with a message.
Error lwip_error(err_t err, const std::string& what);

}  // namespace dmm::lwip_dpdk
