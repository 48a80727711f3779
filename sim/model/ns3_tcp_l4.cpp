#include "model/ns3_tcp_l4.hpp"

#include <algorithm>
#include <array>

#include "model/ns3_route_cache.hpp"
#include "ns3/inet-socket-address.h"
#include "ns3/internet-stack-helper.h"
#include "ns3/ipv4-end-point.h"
#include "ns3/ipv4-header.h"
#include "ns3/ipv4-interface.h"
#include "ns3/net-device.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/tcp-header.h"
#include "ns3/tcp-socket-base.h"

namespace dmm::sim {
namespace {

// See ns3_tcp_access.cpp: a derived class may form pointers to TcpSocketBase's protected members.
struct TimeWaitAccess : ns3::TcpSocketBase {
  static constexpr auto state = &TimeWaitAccess::m_state;
  static constexpr auto endpoint = &TimeWaitAccess::m_endPoint;
  static constexpr auto time_wait_timer = &TimeWaitAccess::m_timewaitEvent;
  static constexpr auto close_and_notify = &TimeWaitAccess::CloseAndNotify;
  static constexpr auto tcb = &TimeWaitAccess::m_tcb;
};

TimePoint now() { return TimePoint(ns3::Simulator::Now().GetNanoSeconds()); }

// ns-3's getters are not const.
TcpConnectionKey key_of(ns3::Ipv4EndPoint& endpoint) {
  return {endpoint.GetLocalAddress().Get(), endpoint.GetLocalPort(), endpoint.GetPeerAddress().Get(),
          endpoint.GetPeerPort()};
}

}  // namespace

NS_OBJECT_ENSURE_REGISTERED(TimeWaitTcpL4Protocol);

ns3::TypeId TimeWaitTcpL4Protocol::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("dmm::TimeWaitTcpL4Protocol")
                               .SetParent<ns3::TcpL4Protocol>()
                               .SetGroupName("Internet")
                               .AddConstructor<TimeWaitTcpL4Protocol>();
  return tid;
}

bool TimeWaitTcpL4Protocol::bind_ephemeral(ns3::TcpSocketBase& socket, ns3::Ipv4Address local) {
  const TimePoint at = now();
  const int range = last_port_ - first_port_ + 1;
  // Every port of the range held in TIME_WAIT: out of ports, said at once instead of after trying them all.
  if (time_wait_.ports_held_in_range(at) >= static_cast<std::size_t>(range)) return false;
  for (int left = range; left > 0; --left) {
    last_ephemeral_port_ = last_ephemeral_port_ >= last_port_ || last_ephemeral_port_ < first_port_
                               ? first_port_
                               : static_cast<std::uint16_t>(last_ephemeral_port_ + 1);
    if (time_wait_.port_taken(last_ephemeral_port_, at) || port_in_use(last_ephemeral_port_)) continue;
    if (socket.Bind(ns3::InetSocketAddress(local, last_ephemeral_port_)) == 0) return true;
    if (socket.GetErrno() != ns3::Socket::ERROR_ADDRINUSE) return false;  // not a port question
  }
  return false;
}

bool TimeWaitTcpL4Protocol::port_in_use(std::uint16_t port) {
  auto it = sockets_by_port_.find(port);
  if (it == sockets_by_port_.end()) return false;
  std::erase_if(it->second, [&](const ns3::Ptr<ns3::TcpSocketBase>& s) {
    ns3::Ipv4EndPoint* endpoint = (*s).*TimeWaitAccess::endpoint;
    const bool closed = endpoint == nullptr || endpoint->GetLocalPort() != port;
    remembered_ -= closed;
    return closed;
  });
  if (!it->second.empty()) return true;
  sockets_by_port_.erase(it);
  return false;
}

ns3::Ipv4EndPoint* TimeWaitTcpL4Protocol::indexed_endpoint(const TcpConnectionKey& key,
                                                           const ns3::Ipv4Interface& interface) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return nullptr;
  ns3::Ipv4EndPoint* endpoint = (*it->second).*TimeWaitAccess::endpoint;
  if (endpoint == nullptr || key_of(*endpoint) != key) {
    connections_.erase(it);
    --remembered_;
    return nullptr;
  }
  // ns-3's own conditions for this endpoint (Ipv4EndPointDemux::Lookup); when they fail, its scan decides.
  if (!endpoint->IsRxEnabled()) return nullptr;
  if (endpoint->GetBoundNetDevice() && endpoint->GetBoundNetDevice() != interface.GetDevice()) return nullptr;
  return endpoint;
}

void TimeWaitTcpL4Protocol::forget_closed_sockets() {
  std::vector<std::uint16_t> ports;
  ports.reserve(sockets_by_port_.size());
  for (const auto& [port, sockets] : sockets_by_port_) ports.push_back(port);
  for (std::uint16_t port : ports) port_in_use(port);
  std::erase_if(connections_, [&](const auto& entry) {
    ns3::Ipv4EndPoint* endpoint = (*entry.second).*TimeWaitAccess::endpoint;
    const bool closed = endpoint == nullptr || key_of(*endpoint) != entry.first;
    remembered_ -= closed;
    return closed;
  });
  // Twice what is left, plus a little: the sweeps cost O(1) per socket remembered, and a node never keeps more
  // than about twice its live sockets (plus 64) alive after they closed — a client node with a few live
  // connections, hundreds of thousands of sessions in a run, must not hold them all.
  forget_when_remembered_ = 2 * remembered_ + 64;
}

void TimeWaitTcpL4Protocol::remembered_one_more() {
  if (++remembered_ >= forget_when_remembered_) forget_closed_sockets();
}

void TimeWaitTcpL4Protocol::index_connection(const ns3::Ptr<ns3::TcpSocketBase>& socket) {
  ns3::Ipv4EndPoint* endpoint = (*socket).*TimeWaitAccess::endpoint;
  if (endpoint == nullptr || endpoint->GetPeerPort() == 0) return;  // not (or no longer) connected
  auto [it, added] = connections_.insert_or_assign(key_of(*endpoint), socket);
  if (added) remembered_one_more();
}

void TimeWaitTcpL4Protocol::watch(const ns3::Ptr<ns3::TcpSocketBase>& socket) {
  if (ns3::Ipv4EndPoint* endpoint = (*socket).*TimeWaitAccess::endpoint) {
    sockets_by_port_[endpoint->GetLocalPort()].push_back(socket);
    remembered_one_more();
  }
  // Raw pointers: the trace belongs to the socket, so it fires only while the socket lives, and the protocol
  // lives as long as the node.
  ns3::TcpSocketBase* raw = ns3::PeekPointer(socket);
  socket->TraceConnectWithoutContext(
      "State", ns3::Callback<void, ns3::TcpSocket::TcpStates_t, ns3::TcpSocket::TcpStates_t>(
                   [this, raw](ns3::TcpSocket::TcpStates_t, ns3::TcpSocket::TcpStates_t entered) {
                     if (entered != ns3::TcpSocket::TIME_WAIT) return;
                     // Deferred: ns-3 is inside TimeWait(), which goes on to start the timer we take over.
                     ns3::Simulator::ScheduleNow([self = ns3::Ptr<TimeWaitTcpL4Protocol>(this),
                                                  socket = ns3::Ptr<ns3::TcpSocketBase>(raw)] {
                       self->take_over_time_wait(*socket);
                     });
                   }));
}

void TimeWaitTcpL4Protocol::take_over_time_wait(ns3::TcpSocketBase& socket) {
  if ((socket.*TimeWaitAccess::state).Get() != ns3::TcpSocket::TIME_WAIT) return;
  ns3::Ipv4EndPoint* endpoint = socket.*TimeWaitAccess::endpoint;
  const ns3::EventId& timer = socket.*TimeWaitAccess::time_wait_timer;
  if (endpoint == nullptr || !timer.IsRunning()) return;
  // Bytes the application has not read yet: its Close() will answer with a RST and free the endpoint at once
  // (TcpSocketBase::Close). That needs the endpoint, so such a connection keeps ns-3's own TIME_WAIT.
  if ((socket.*TimeWaitAccess::tcb)->m_rxBuffer->Size() != 0) return;
  const TcpConnectionKey connection = key_of(*endpoint);
  const TimePoint until = now() + Duration(ns3::Simulator::GetDelayLeft(timer).GetNanoSeconds());
  time_wait_.hold(connection, ns3::PeekPointer(endpoint->GetBoundNetDevice()), until);
  // What ns-3 would do when the timer fires, now: the socket closes (its close was already notified on entering
  // TIME_WAIT) and its endpoint leaves the list.
  (socket.*TimeWaitAccess::close_and_notify)();
}

void TimeWaitTcpL4Protocol::set_ephemeral_ports(std::uint16_t first, std::uint16_t last) {
  first_port_ = std::min(first, last);
  last_port_ = std::max(first, last);
  last_ephemeral_port_ = last_port_;
  time_wait_.count_ports_between(first_port_, last_port_);
}

void TimeWaitTcpL4Protocol::DoDispose() {
  sockets_by_port_.clear();
  connections_.clear();
  remembered_ = 0;
  ns3::TcpL4Protocol::DoDispose();
}

std::size_t TimeWaitTcpL4Protocol::connections_in_time_wait() { return time_wait_.size(now()); }

ns3::IpL4Protocol::RxStatus TimeWaitTcpL4Protocol::Receive(ns3::Ptr<ns3::Packet> packet,
                                                           const ns3::Ipv4Header& header,
                                                           ns3::Ptr<ns3::Ipv4Interface> interface) {
  std::array<std::uint8_t, 4> ports{};  // the TCP header's source and destination ports
  if (packet->CopyData(ports.data(), ports.size()) != ports.size()) {
    return ns3::TcpL4Protocol::Receive(packet, header, interface);
  }
  const TcpConnectionKey connection{header.GetDestination().Get(), static_cast<std::uint16_t>(ports[2] << 8 | ports[3]),
                                    header.GetSource().Get(), static_cast<std::uint16_t>(ports[0] << 8 | ports[1])};
  if (!time_wait_.empty() && time_wait_.holds(connection, ns3::PeekPointer(interface->GetDevice()), now())) {
    return RX_OK;
  }
  if (ns3::Ipv4EndPoint* endpoint = indexed_endpoint(connection, *interface)) {
    // What ns-3's Receive does with the one endpoint its scan found.
    ns3::TcpHeader tcp;
    const RxStatus checked = PacketReceived(packet, tcp, header.GetSource(), header.GetDestination());
    if (checked != RX_OK) return checked;
    endpoint->ForwardUp(packet, header, tcp.GetSourcePort(), interface);
    return RX_OK;
  }
  return ns3::TcpL4Protocol::Receive(packet, header, interface);
}

ns3::Ptr<TimeWaitTcpL4Protocol> time_wait_tcp(const ns3::Ptr<ns3::Node>& node) {
  return node ? node->GetObject<TimeWaitTcpL4Protocol>() : nullptr;
}

void install_internet_stack(const ns3::NodeContainer& nodes) {
  ns3::InternetStackHelper internet;
  internet.SetTcp(TimeWaitTcpL4Protocol::GetTypeId().GetName());
  internet.SetRoutingHelper(CachedRoutingHelper());
  internet.Install(nodes);
}

}  // namespace dmm::sim
