#pragma once
// The server side of a UDP "session": every datagram source (address + port) seen by a UDP listener becomes one
// Connection, so that sinks count bytes per session as they do for TCP. All such connections share the
// listener's socket; replies go out with SendTo. There is no end of stream in UDP.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "dmm/stack.hpp"
#include "run/byte_inbox.hpp"
#include "model/ns3_connection.hpp"
#include "model/ns3_stack_state.hpp"
#include "ns3/inet-socket-address.h"
#include "ns3/packet.h"
#include "ns3/ptr.h"
#include "ns3/socket.h"

namespace dmm::sim {

class Ns3UdpPeerConnection;

// Shared by a UDP listener and its per-peer connections, so that either may be closed first.
struct Ns3UdpShare {
  using PeerKey = std::pair<std::uint32_t, std::uint16_t>;  // IPv4 address (host order), port
  ns3::Ptr<ns3::Socket> socket;                             // null once the listener is closed
  std::map<PeerKey, Ns3UdpPeerConnection*> peers;           // live sessions, by source
};

class Ns3UdpPeerConnection final : public Connection, private Ns3Abortable {
public:
  // Registers itself in `share->peers`; the listener then hands datagrams from `peer` to deliver_datagram.
  Ns3UdpPeerConnection(std::shared_ptr<Ns3UdpShare> share, const ns3::InetSocketAddress& peer,
                       Ns3ConnectionOptions options);
  ~Ns3UdpPeerConnection() override;  // close()
  Ns3UdpPeerConnection(const Ns3UdpPeerConnection&) = delete;
  Ns3UdpPeerConnection& operator=(const Ns3UdpPeerConnection&) = delete;

  void deliver_datagram(const ns3::Packet& datagram);

  void set_events(ConnectionEvents& events) override;
  // One datagram to the peer of up to kMaxUdpPayload bytes. ENOTCONN once the listener is closed.
  Result<std::size_t> send(std::span<const std::byte> data) override;
  Result<std::size_t> receive(std::span<std::byte> buffer) override;
  void shutdown_write() override;  // later sends fail with EPIPE; nothing goes to the peer
  void close() override;
  ConnectionMetrics metrics() const override { return metrics_; }

  ns3::InetSocketAddress peer() const { return peer_; }

private:
  void abort(const Error& why) override;
  void leave();  // unregister from the stack and from the listener's peer table
  // Calls the application; false if it closed or destroyed this connection inside.
  bool notify_readable();
  bool notify_failed();

  std::shared_ptr<Ns3UdpShare> share_;
  ns3::InetSocketAddress peer_;
  Ns3ConnectionOptions options_;
  ConnectionEvents* events_ = nullptr;
  Ns3StackState::Token token_ = 0;
  bool registered_ = true;  // present in share_->peers
  bool closed_ = false;
  bool write_shut_ = false;
  bool owed_readable_ = false;  // data arrived before set_events
  bool owed_failed_ = false;
  std::optional<Error> error_;
  ByteInbox inbox_;
  ConnectionMetrics metrics_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dmm::sim
