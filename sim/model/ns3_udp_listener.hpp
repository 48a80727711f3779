#pragma once
// A bound ns-3 UDP socket that turns each new datagram source into an Ns3UdpPeerConnection (on_accept), then
// feeds that session every later datagram from the same source.
#include <memory>

#include "dmm/stack.hpp"
#include "model/ns3_connection.hpp"
#include "model/ns3_udp_peer_connection.hpp"
#include "ns3/ptr.h"
#include "ns3/socket.h"

namespace dmm::sim {

class Ns3UdpListener final : public Listener {
public:
  Ns3UdpListener(ns3::Ptr<ns3::Socket> socket, AcceptEvents& events, Ns3ConnectionOptions options);
  ~Ns3UdpListener() override;  // close()
  Ns3UdpListener(const Ns3UdpListener&) = delete;
  Ns3UdpListener& operator=(const Ns3UdpListener&) = delete;

  // Closes the socket: sessions already accepted stay readable for what they hold, but cannot send.
  void close() override;
  ns3::Ptr<ns3::Socket> socket() const { return share_->socket; }

private:
  void on_recv(ns3::Ptr<ns3::Socket> socket);

  std::shared_ptr<Ns3UdpShare> share_ = std::make_shared<Ns3UdpShare>();
  AcceptEvents& events_;
  Ns3ConnectionOptions options_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dmm::sim
