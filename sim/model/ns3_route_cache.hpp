#pragma once
// ns-3's routing (a list of static and global routing, as InternetStackHelper installs by default) with its
// answers for outgoing packets remembered.
//
// Why: Ipv4StaticRouting looks a destination up by scanning every route of the node, building a new route object
// each time. A server with a link to each of 200 clients has 400 routes and looks one up for every segment it
// sends: in a 200-client scenario that was the largest single cost of the run (~17 %). The routes of a simulated
// node change only when an interface goes up or down or gets an address — which the routing protocol is told —
// so an answer stays right until then.
//
// How, through ns-3's public extension points only: an Ipv4RoutingProtocol that forwards everything to the
// list routing it wraps, installed with InternetStackHelper::SetRoutingHelper; RouteOutput answers for a
// unicast destination and output interface are kept until the next interface or address notification. The same
// Ipv4Route object goes to several callers: ns-3 only reads the routes it is given. Routes added behind the
// protocol's back (Ipv4StaticRouting::AddHostRouteTo on the wrapped object) would not be seen: DMM adds none.
#include <cstdint>
#include <unordered_map>

#include "ns3/ipv4-routing-helper.h"
#include "ns3/ipv4-routing-protocol.h"

namespace dmm::sim {

class CachedRouting final : public ns3::Ipv4RoutingProtocol {
public:
  static ns3::TypeId GetTypeId();
  void wrap(ns3::Ptr<ns3::Ipv4RoutingProtocol> routing) { routing_ = std::move(routing); }

  ns3::Ptr<ns3::Ipv4Route> RouteOutput(ns3::Ptr<ns3::Packet> p, const ns3::Ipv4Header& header,
                                       ns3::Ptr<ns3::NetDevice> oif, ns3::Socket::SocketErrno& sockerr) override;
  bool RouteInput(ns3::Ptr<const ns3::Packet> p, const ns3::Ipv4Header& header, ns3::Ptr<const ns3::NetDevice> idev,
                  UnicastForwardCallback ucb, MulticastForwardCallback mcb, LocalDeliverCallback lcb,
                  ErrorCallback ecb) override;
  void NotifyInterfaceUp(std::uint32_t interface) override;
  void NotifyInterfaceDown(std::uint32_t interface) override;
  void NotifyAddAddress(std::uint32_t interface, ns3::Ipv4InterfaceAddress address) override;
  void NotifyRemoveAddress(std::uint32_t interface, ns3::Ipv4InterfaceAddress address) override;
  void SetIpv4(ns3::Ptr<ns3::Ipv4> ipv4) override;
  void PrintRoutingTable(ns3::Ptr<ns3::OutputStreamWrapper> stream, ns3::Time::Unit unit) const override;

  std::size_t remembered() const { return answers_.size(); }

protected:
  void DoDispose() override;

private:
  struct Key {
    std::uint32_t destination;
    const ns3::NetDevice* oif;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct Answer {
    ns3::Ptr<ns3::Ipv4Route> route;
    ns3::Socket::SocketErrno error;
  };

  ns3::Ptr<ns3::Ipv4RoutingProtocol> routing_;
  std::unordered_map<Key, Answer, KeyHash> answers_;
};

// Makes ns-3's default routing (Ipv4ListRouting: static at priority 0, global at -10) wrapped in CachedRouting.
class CachedRoutingHelper final : public ns3::Ipv4RoutingHelper {
public:
  CachedRoutingHelper* Copy() const override { return new CachedRoutingHelper(*this); }
  ns3::Ptr<ns3::Ipv4RoutingProtocol> Create(ns3::Ptr<ns3::Node> node) const override;
};

}  // namespace dmm::sim
