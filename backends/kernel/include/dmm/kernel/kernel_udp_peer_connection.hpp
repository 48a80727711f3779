#pragma once
// The server side of a UDP "session": every datagram source (address + port) seen by a KernelUdpListener
// becomes one Connection, as in the ns-3 backend, so that servers count bytes per session as they do for TCP.
// All such connections share the listener's socket; replies go out with sendto. UDP has no end of stream.
#include <array>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/stack.hpp"

namespace dmm::kernel {

class KernelUdpPeerConnection;

// Shared by a UDP listener and its peer connections, so that either may be closed first.
struct KernelUdpShare {
  using PeerKey = std::tuple<IpFamily, std::array<std::uint8_t, 16>, std::uint16_t>;
  static PeerKey key_of(const Endpoint& e) { return {e.address.family, e.address.bytes, e.port}; }

  UniqueFd fd;  // closed once the listener is closed
  std::size_t max_datagram = 0;
  std::map<PeerKey, KernelUdpPeerConnection*> peers;  // live sessions, by source
};

class KernelUdpPeerConnection final : public Connection {
public:
  // Registers itself in `share->peers`; the listener hands it every datagram from `peer`.
  KernelUdpPeerConnection(std::shared_ptr<KernelUdpShare> share, const Endpoint& peer, EpollExecutor& executor);
  ~KernelUdpPeerConnection() override;  // close()
  KernelUdpPeerConnection(const KernelUdpPeerConnection&) = delete;
  KernelUdpPeerConnection& operator=(const KernelUdpPeerConnection&) = delete;

  // Queues a datagram for receive() and reports on_readable. Beyond kMaxQueuedBytes datagrams are dropped, as
  // a full socket buffer would drop them.
  void deliver_datagram(std::vector<std::byte> datagram);

  void set_events(ConnectionEvents& events) override;
  // One datagram to the peer of up to the listener's maximum payload. ENOTCONN once the listener is closed.
  Result<std::size_t> send(std::span<const std::byte> data) override;
  Result<std::size_t> receive(std::span<std::byte> buffer) override;  // one datagram, truncated to the buffer
  void shutdown_write() override;  // later sends fail with EPIPE; nothing goes to the peer
  void close() override;
  ConnectionMetrics metrics() const override { return metrics_; }

  const Endpoint& peer() const { return peer_; }

  static constexpr std::size_t kMaxQueuedBytes = 1u << 20;

private:
  void leave();
  void notify_readable();

  std::shared_ptr<KernelUdpShare> share_;
  Endpoint peer_;
  EpollExecutor& executor_;
  ConnectionEvents* events_ = nullptr;
  bool registered_ = true;
  bool closed_ = false;
  bool write_shut_ = false;
  bool owed_readable_ = false;  // data arrived before set_events
  std::deque<std::vector<std::byte>> inbox_;
  std::size_t queued_bytes_ = 0;
  ConnectionMetrics metrics_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dmm::kernel
