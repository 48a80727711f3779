#pragma once
// ns-3's TCP with TIME_WAIT connections kept in a hash table instead of its endpoint list, and live connections
// found through one.
//
// Why: ns-3 3.37 demultiplexes every arriving segment, and picks every ephemeral port, by scanning one list of
// all endpoints of the node (Ipv4EndPointDemux), and a closed connection stays in that list for its whole
// TIME_WAIT (60 s, Linux's). A client making 500 connections a second holds 30,000 of them: every packet then
// scans 30,000 entries and the run slows down quadratically with the number of sessions. Linux keeps such
// connections as small records in a hash table; this class does the same for the simulated stacks.
//
// How, through ns-3's public extension points only (so it survives a Debian ns-3 upgrade as long as these stay):
// - the class is a TcpL4Protocol installed with InternetStackHelper::SetTcp (install_internet_stack);
// - watch() follows a socket's public "State" trace; when the socket enters TIME_WAIT, its endpoint is released
//   (TcpSocketBase's protected CloseAndNotify, reached the way ns3_tcp_access.cpp reaches SendRST) and the
//   connection is held in a TimeWaitTable until its TIME_WAIT timer would have fired;
// - Receive() (IpL4Protocol's virtual entry point) swallows segments of held connections before ns-3's
//   demultiplexer sees them, which is what ns-3's TIME_WAIT state does with them (TcpSocketBase::DoForwardUp:
//   "Do nothing");
// - Receive() also hands a segment of an indexed live connection (index_connection) straight to its endpoint, as
//   ns-3's Receive does once its scan has found exactly that endpoint (an endpoint matching all four addresses
//   and ports is the only one ns-3 would pick); a server with hundreds of connections no longer scans them all for
//   every segment. Every other segment (handshakes, unknown connections, RSTs to send) goes to ns-3's own Receive;
// - bind_ephemeral() picks ephemeral ports as ns-3 does (counting up, the whole node sharing one counter, a port
//   in use on any address skipped; but from Linux's range) and itself: ns-3's choice cannot skip ports held by
//   connections in TIME_WAIT, which it no longer sees, and its check for an explicit port (Bind with a port) looks
//   only at endpoints bound to the same interface — which a socket is not yet when it binds. So the protocol
//   remembers which watched socket has which local port.
// A connection whose application has not read everything yet keeps ns-3's own TIME_WAIT: closing it then resets
// it (TcpSocketBase::Close sends a RST and frees the endpoint), which needs the endpoint. One difference remains:
// aborting a taken-over connection (abort_with_reset, when its stack fails while the application still holds a
// half-closed connection in TIME_WAIT) sends no RST and its port stays held until the TIME_WAIT ends; ns-3 would
// send the RST and free the port. The application sees the same callbacks.
// Every TCP socket of the node must be watched (Ns3Stack and Ns3TcpListener do it): an unwatched socket keeps
// ns-3's own TIME_WAIT, and its port is unknown to bind_ephemeral.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "model/time_wait_table.hpp"
#include "ns3/ipv4-address.h"
#include "ns3/node-container.h"
#include "ns3/tcp-l4-protocol.h"

namespace ns3 {
class TcpSocketBase;
}

namespace dmm::sim {

class TimeWaitTcpL4Protocol final : public ns3::TcpL4Protocol {
public:
  static ns3::TypeId GetTypeId();

  // Binds `socket` to `local` and a free ephemeral port. false when every port of the range is taken (by live
  // connections or connections in TIME_WAIT): the node has run out of ports, as Linux's connect() would
  // (EADDRNOTAVAIL).
  bool bind_ephemeral(ns3::TcpSocketBase& socket, ns3::Ipv4Address local);
  // Call once `socket` is bound: its local port counts as taken while it has an endpoint, and from now on its
  // TIME_WAIT is held in the table (see above).
  void watch(const ns3::Ptr<ns3::TcpSocketBase>& socket);
  // The range bind_ephemeral hands out, both ends included (Linux's ip_local_port_range); restarts the counter.
  void set_ephemeral_ports(std::uint16_t first, std::uint16_t last);
  // Call once `socket` is connected (after Connect, or when accepted): its segments then skip ns-3's scan.
  void index_connection(const ns3::Ptr<ns3::TcpSocketBase>& socket);
  // Sockets the protocol still holds a reference to (live ones, and closed ones not yet forgotten).
  std::size_t sockets_remembered() const { return remembered_; }
  // Connections of this node in TIME_WAIT now (for tests and reports).
  std::size_t connections_in_time_wait();

  ns3::IpL4Protocol::RxStatus Receive(ns3::Ptr<ns3::Packet> packet, const ns3::Ipv4Header& header,
                                      ns3::Ptr<ns3::Ipv4Interface> interface) override;
  using ns3::TcpL4Protocol::Receive;  // the IPv6 overload stays ns-3's

  // Linux's net.ipv4.ip_local_port_range (ns-3's own is 49152-65535): how many connections a client can have
  // open or in TIME_WAIT towards one server port is the kernel's.
  static constexpr std::uint16_t kFirstEphemeralPort = 32768;
  static constexpr std::uint16_t kLastEphemeralPort = 60999;

protected:
  // Drops the sockets it remembers: each holds the protocol (its m_tcp), so keeping them would make cycles that
  // outlive the simulation.
  void DoDispose() override;

private:
  void take_over_time_wait(ns3::TcpSocketBase& socket);
  // Whether a watched socket still has an endpoint on local `port`; forgets those that do not.
  bool port_in_use(std::uint16_t port);
  // The endpoint of the indexed connection `key`, if it would take a segment that arrived on `interface`;
  // forgets the entry when its socket no longer has that connection.
  ns3::Ipv4EndPoint* indexed_endpoint(const TcpConnectionKey& key, const ns3::Ipv4Interface& interface);
  // Forgets every remembered socket without its endpoint, so that closed sockets are not kept alive for long.
  void forget_closed_sockets();
  void remembered_one_more();

  TimeWaitTable time_wait_{kFirstEphemeralPort, kLastEphemeralPort};
  // Watched sockets by the local port they were bound to. Sockets hold their endpoint (and port) until ns-3
  // releases it on any of several paths (close, reset, retries exhausted) that are not all observable, so an
  // entry is checked when its port is looked at and all of them now and then (forget_closed_sockets).
  std::unordered_map<std::uint16_t, std::vector<ns3::Ptr<ns3::TcpSocketBase>>> sockets_by_port_;
  std::unordered_map<TcpConnectionKey, ns3::Ptr<ns3::TcpSocketBase>, TcpConnectionKeyHash> connections_;
  std::size_t remembered_ = 0;                 // entries in sockets_by_port_ and connections_
  std::size_t forget_when_remembered_ = 64;  // next forget_closed_sockets (see there)
  std::uint16_t first_port_ = kFirstEphemeralPort;
  std::uint16_t last_port_ = kLastEphemeralPort;
  std::uint16_t last_ephemeral_port_ = kLastEphemeralPort;  // the first handed out is the first of the range
};

// InternetStackHelper::Install with TimeWaitTcpL4Protocol as the nodes' TCP and ns-3's default routing behind a
// CachedRouting (ns3_route_cache.hpp).
void install_internet_stack(const ns3::NodeContainer& nodes);
// The node's TimeWaitTcpL4Protocol; null when its TCP is ns-3's own.
ns3::Ptr<TimeWaitTcpL4Protocol> time_wait_tcp(const ns3::Ptr<ns3::Node>& node);

}  // namespace dmm::sim
