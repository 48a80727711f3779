#include "model/ns3_route_cache.hpp"

#include "ns3/ipv4-global-routing-helper.h"
#include "ns3/ipv4-header.h"
#include "ns3/ipv4-list-routing-helper.h"
#include "ns3/ipv4-route.h"
#include "ns3/ipv4-static-routing-helper.h"
#include "ns3/net-device.h"

namespace dmm::sim {

NS_OBJECT_ENSURE_REGISTERED(CachedRouting);

ns3::TypeId CachedRouting::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("dmm::CachedRouting")
                               .SetParent<ns3::Ipv4RoutingProtocol>()
                               .SetGroupName("Internet")
                               .AddConstructor<CachedRouting>();
  return tid;
}

std::size_t CachedRouting::KeyHash::operator()(const Key& k) const noexcept {
  return std::hash<std::uint64_t>{}(std::uint64_t{k.destination} * 0x9E3779B97F4A7C15ull ^
                                    reinterpret_cast<std::uintptr_t>(k.oif));
}

ns3::Ptr<ns3::Ipv4Route> CachedRouting::RouteOutput(ns3::Ptr<ns3::Packet> p, const ns3::Ipv4Header& header,
                                                    ns3::Ptr<ns3::NetDevice> oif,
                                                    ns3::Socket::SocketErrno& sockerr) {
  const ns3::Ipv4Address destination = header.GetDestination();
  // Multicast routes depend on the source too, and broadcasts are rare: those are asked every time.
  if (destination.IsMulticast() || destination.IsBroadcast()) return routing_->RouteOutput(p, header, oif, sockerr);
  const Key key{destination.Get(), ns3::PeekPointer(oif)};
  if (auto it = answers_.find(key); it != answers_.end()) {
    sockerr = it->second.error;
    return it->second.route;
  }
  ns3::Ptr<ns3::Ipv4Route> route = routing_->RouteOutput(p, header, oif, sockerr);
  answers_.emplace(key, Answer{route, sockerr});
  return route;
}

bool CachedRouting::RouteInput(ns3::Ptr<const ns3::Packet> p, const ns3::Ipv4Header& header,
                               ns3::Ptr<const ns3::NetDevice> idev, UnicastForwardCallback ucb,
                               MulticastForwardCallback mcb, LocalDeliverCallback lcb, ErrorCallback ecb) {
  return routing_->RouteInput(p, header, idev, ucb, mcb, lcb, ecb);
}

void CachedRouting::NotifyInterfaceUp(std::uint32_t interface) {
  answers_.clear();
  routing_->NotifyInterfaceUp(interface);
}

void CachedRouting::NotifyInterfaceDown(std::uint32_t interface) {
  answers_.clear();
  routing_->NotifyInterfaceDown(interface);
}

void CachedRouting::NotifyAddAddress(std::uint32_t interface, ns3::Ipv4InterfaceAddress address) {
  answers_.clear();
  routing_->NotifyAddAddress(interface, address);
}

void CachedRouting::NotifyRemoveAddress(std::uint32_t interface, ns3::Ipv4InterfaceAddress address) {
  answers_.clear();
  routing_->NotifyRemoveAddress(interface, address);
}

void CachedRouting::SetIpv4(ns3::Ptr<ns3::Ipv4> ipv4) {
  answers_.clear();
  routing_->SetIpv4(ipv4);
}

void CachedRouting::PrintRoutingTable(ns3::Ptr<ns3::OutputStreamWrapper> stream, ns3::Time::Unit unit) const {
  routing_->PrintRoutingTable(stream, unit);
}

void CachedRouting::DoDispose() {
  answers_.clear();
  routing_->Dispose();
  routing_ = nullptr;
  ns3::Ipv4RoutingProtocol::DoDispose();
}

ns3::Ptr<ns3::Ipv4RoutingProtocol> CachedRoutingHelper::Create(ns3::Ptr<ns3::Node> node) const {
  // What InternetStackHelper installs when given no routing helper.
  ns3::Ipv4ListRoutingHelper list;
  list.Add(ns3::Ipv4StaticRoutingHelper(), 0);
  list.Add(ns3::Ipv4GlobalRoutingHelper(), -10);
  auto cached = ns3::CreateObject<CachedRouting>();
  cached->wrap(list.Create(node));
  return cached;
}

}  // namespace dmm::sim
