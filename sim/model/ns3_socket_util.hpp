#pragma once
// Small translations between the core's vocabulary (errno, IpAddress) and ns-3's, and the one lifetime rule
// every owner of an ns-3 socket must follow (release_socket_later).
#include <cstdint>

#include "dmm/address.hpp"
#include "dmm/result.hpp"
#include "ns3/ipv4-address.h"
#include "ns3/ptr.h"
#include "ns3/socket.h"

namespace ns3 {
class NetDevice;
class Node;
}  // namespace ns3

namespace dmm::sim {

// The errno an application would see from Linux for the same condition (ERROR_NOROUTETOHOST -> ENETUNREACH).
int to_errno(ns3::Socket::SocketErrno error);
// `what`: the socket's own errno, as an Error whose message names the operation.
Error socket_error(const ns3::Socket& socket, const char* what);

// IPv4 only (the simulated topology is IPv4); v6 addresses map to 0.0.0.0.
ns3::Ipv4Address to_ns3(const IpAddress& address);
IpAddress from_ns3(ns3::Ipv4Address address);

// Whether `node` can send to `dst` now, through `oif` if not null: the check Linux makes in connect(), done before
// a socket exists so that a failed connect leaves nothing behind (ns-3 keeps a socket whose Connect failed).
bool has_route(const ns3::Ptr<ns3::Node>& node, ns3::Ipv4Address dst, const ns3::Ptr<ns3::NetDevice>& oif);

// Drops our reference to `socket` after every event already due at this instant has run. ns-3 schedules some socket
// events with a raw `this` (ConnectionSucceeded, NotifyDataSent) and may be inside one of the socket's own methods
// when it calls us back, so the last reference must not go away synchronously.
void release_socket_later(ns3::Ptr<ns3::Socket> socket);

}  // namespace dmm::sim
