#pragma once
// UDP on an lwip-dpdk instance, shaped like the kernel backend's: a client "connection" is a udp_pcb connected
// to its peer; a listener turns each new datagram source into one peer connection (on_accept) that shares the
// listener's pcb. Datagrams wait in a bounded queue until read; beyond it they are dropped, as a full socket
// buffer drops them. UDP has no end of stream.
#include <lwip/udp.h>

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "dmm/stack.hpp"
#include "event_mailbox.hpp"
#include "lwip_interface.hpp"

namespace dmm::lwip_dpdk {

// Received datagrams of one session.
class DatagramQueue {
public:
  static constexpr std::size_t kMaxQueuedBytes = 256 * 1024;
  // False (dropped) when the queue is full. `from`: its source, for receive_from.
  bool push(const pbuf* p, const Endpoint& from = {});
  // One datagram into `buffer` (the rest of a longer one is discarded, as recv(2) does); EAGAIN when empty.
  Result<std::size_t> pop(std::span<std::byte> buffer, Endpoint* from = nullptr);
  bool empty() const { return datagrams_.empty(); }

private:
  struct Datagram {
    std::vector<std::byte> bytes;
    Endpoint from;
  };
  std::deque<Datagram> datagrams_;
  std::size_t bytes_ = 0;
};

// One datagram of `data` to `to` (nullptr: the pcb's connected peer). The pbuf is made and freed here.
Status send_datagram(udp_pcb* pcb, std::span<const std::byte> data, const Endpoint* to);

class LwipUdpConnection final : public Connection {
public:
  static Result<std::unique_ptr<LwipUdpConnection>> connect(LwipInterface& interface, Executor& executor,
                                                            const Endpoint& to);
  ~LwipUdpConnection() override;
  LwipUdpConnection(const LwipUdpConnection&) = delete;
  LwipUdpConnection& operator=(const LwipUdpConnection&) = delete;

  void set_events(ConnectionEvents& events) override { mailbox_->set_sink(&events); }
  Result<std::size_t> send(std::span<const std::byte> data) override;
  Result<std::size_t> receive(std::span<std::byte> buffer) override;
  void shutdown_write() override { write_shut_ = true; }
  void close() override;
  ConnectionMetrics metrics() const override { return metrics_; }
  std::optional<Endpoint> local_endpoint() const override;

private:
  LwipUdpConnection(udp_pcb* pcb, LwipInterface& interface, Executor& executor);
  static void on_recv(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* address, u16_t port);

  udp_pcb* pcb_;
  LwipInterface& interface_;
  std::shared_ptr<EventMailbox> mailbox_;
  DatagramQueue queue_;
  bool write_shut_ = false;
  ConnectionMetrics metrics_;
};

class LwipUdpPeerConnection;

// Shared by a UDP listener and its peer connections, so that either may be closed first.
struct LwipUdpShare {
  using PeerKey = std::tuple<std::array<std::uint8_t, 16>, std::uint16_t>;
  udp_pcb* pcb = nullptr;  // null once the listener is closed
  std::map<PeerKey, LwipUdpPeerConnection*> peers;
};

class LwipUdpPeerConnection final : public Connection {
public:
  LwipUdpPeerConnection(std::shared_ptr<LwipUdpShare> share, const Endpoint& peer, LwipInterface& interface,
                        Executor& executor);
  ~LwipUdpPeerConnection() override;
  void deliver(const pbuf* p);

  void set_events(ConnectionEvents& events) override { mailbox_->set_sink(&events); }
  Result<std::size_t> send(std::span<const std::byte> data) override;
  Result<std::size_t> receive(std::span<std::byte> buffer) override;
  void shutdown_write() override { write_shut_ = true; }
  void close() override;
  ConnectionMetrics metrics() const override { return metrics_; }

private:
  std::shared_ptr<LwipUdpShare> share_;
  Endpoint peer_;
  LwipInterface& interface_;
  std::shared_ptr<EventMailbox> mailbox_;
  DatagramQueue queue_;
  bool closed_ = false;
  bool write_shut_ = false;
  ConnectionMetrics metrics_;
};

class LwipUdpListener final : public Listener {
public:
  static Result<std::unique_ptr<LwipUdpListener>> create(LwipInterface& interface, Executor& executor,
                                                         const Endpoint& on, AcceptEvents& events);
  ~LwipUdpListener() override;
  void close() override;

private:
  LwipUdpListener(std::shared_ptr<LwipUdpShare> share, LwipInterface& interface, Executor& executor,
                  AcceptEvents& events);
  static void on_recv(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* address, u16_t port);

  std::shared_ptr<LwipUdpShare> share_;
  LwipInterface& interface_;
  Executor& executor_;
  AcceptEvents& events_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dmm::lwip_dpdk
