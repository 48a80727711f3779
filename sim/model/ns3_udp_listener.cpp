#include "model/ns3_udp_listener.hpp"

#include <utility>

#include "model/ns3_socket_util.hpp"
#include "ns3/callback.h"
#include "ns3/inet-socket-address.h"
#include "ns3/packet.h"

namespace dmm::sim {

Ns3UdpListener::Ns3UdpListener(ns3::Ptr<ns3::Socket> socket, AcceptEvents& events, Ns3ConnectionOptions options)
    : events_(events), options_(std::move(options)) {
  share_->socket = std::move(socket);
  share_->socket->SetRecvCallback(ns3::MakeCallback(&Ns3UdpListener::on_recv, this));
}

Ns3UdpListener::~Ns3UdpListener() { close(); }

void Ns3UdpListener::close() {
  if (!share_->socket) return;
  ns3::Ptr<ns3::Socket> socket = std::exchange(share_->socket, nullptr);
  socket->SetRecvCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
  socket->Close();
  release_socket_later(std::move(socket));
}

void Ns3UdpListener::on_recv(ns3::Ptr<ns3::Socket> socket) {
  const std::weak_ptr<bool> alive = alive_;
  ns3::Address from;
  // The application may close this listener (or destroy it) from any callback below: re-check every round.
  while (share_->socket == socket) {
    const ns3::Ptr<ns3::Packet> datagram = socket->RecvFrom(from);
    if (!datagram) return;
    if (options_.stack->failed() || !ns3::InetSocketAddress::IsMatchingType(from)) continue;  // a dead stack hears nothing
    const ns3::InetSocketAddress peer = ns3::InetSocketAddress::ConvertFrom(from);
    const Ns3UdpShare::PeerKey key{peer.GetIpv4().Get(), peer.GetPort()};
    if (!share_->peers.contains(key)) {
      events_.on_accept(std::make_unique<Ns3UdpPeerConnection>(share_, peer, options_));
      if (alive.expired()) return;
    }
    const auto it = share_->peers.find(key);
    if (it == share_->peers.end()) continue;  // the application refused the session (dropped it in on_accept)
    it->second->deliver_datagram(*datagram);
    if (alive.expired()) return;
  }
}

}  // namespace dmm::sim
