#include "model/ns3_socket_util.hpp"

#include <cerrno>
#include <string>
#include <utility>

#include "ns3/ipv4-header.h"
#include "ns3/ipv4-route.h"
#include "ns3/ipv4-routing-protocol.h"
#include "ns3/ipv4.h"
#include "ns3/net-device.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"

namespace dmm::sim {

int to_errno(ns3::Socket::SocketErrno error) {
  switch (error) {
    case ns3::Socket::ERROR_NOTERROR: return 0;
    case ns3::Socket::ERROR_ISCONN: return EISCONN;
    case ns3::Socket::ERROR_NOTCONN: return ENOTCONN;
    case ns3::Socket::ERROR_MSGSIZE: return EMSGSIZE;
    case ns3::Socket::ERROR_AGAIN: return EAGAIN;
    case ns3::Socket::ERROR_SHUTDOWN: return EPIPE;
    case ns3::Socket::ERROR_OPNOTSUPP: return EOPNOTSUPP;
    case ns3::Socket::ERROR_AFNOSUPPORT: return EAFNOSUPPORT;
    case ns3::Socket::ERROR_INVAL: return EINVAL;
    case ns3::Socket::ERROR_BADF: return EBADF;
    case ns3::Socket::ERROR_NOROUTETOHOST: return ENETUNREACH;
    case ns3::Socket::ERROR_NODEV: return ENODEV;
    case ns3::Socket::ERROR_ADDRNOTAVAIL: return EADDRNOTAVAIL;
    case ns3::Socket::ERROR_ADDRINUSE: return EADDRINUSE;
    case ns3::Socket::SOCKET_ERRNO_LAST: break;
  }
  return EIO;
}

Error socket_error(const ns3::Socket& socket, const char* what) {
  const int code = to_errno(socket.GetErrno());
  return make_error(code == 0 ? EIO : code, std::string(what) + " failed (ns-3 socket errno " +
                                                std::to_string(static_cast<int>(socket.GetErrno())) + ")");
}

ns3::Ipv4Address to_ns3(const IpAddress& address) {
  if (address.family != IpFamily::v4) return ns3::Ipv4Address::GetAny();
  const auto& b = address.bytes;
  return ns3::Ipv4Address((std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
                          std::uint32_t{b[3]});
}

IpAddress from_ns3(ns3::Ipv4Address address) {
  const std::uint32_t v = address.Get();
  IpAddress out;  // built by hand: IpAddress::v4 lives in the core library, this file needs only its header
  out.family = IpFamily::v4;
  out.bytes[0] = static_cast<std::uint8_t>(v >> 24);
  out.bytes[1] = static_cast<std::uint8_t>(v >> 16);
  out.bytes[2] = static_cast<std::uint8_t>(v >> 8);
  out.bytes[3] = static_cast<std::uint8_t>(v);
  return out;
}

bool has_route(const ns3::Ptr<ns3::Node>& node, ns3::Ipv4Address dst, const ns3::Ptr<ns3::NetDevice>& oif) {
  const ns3::Ptr<ns3::Ipv4> ipv4 = node->GetObject<ns3::Ipv4>();
  if (!ipv4 || !ipv4->GetRoutingProtocol()) return false;
  if (oif) {
    const std::int32_t interface = ipv4->GetInterfaceForDevice(oif);
    if (interface < 0 || !ipv4->IsUp(static_cast<std::uint32_t>(interface))) return false;
  }
  ns3::Ipv4Header header;
  header.SetDestination(dst);
  ns3::Socket::SocketErrno error = ns3::Socket::ERROR_NOTERROR;
  return ipv4->GetRoutingProtocol()->RouteOutput(ns3::Ptr<ns3::Packet>(), header, oif, error) != nullptr;
}

void release_socket_later(ns3::Ptr<ns3::Socket> socket) {
  if (!socket) return;
  ns3::Simulator::ScheduleNow([held = std::move(socket)] {});
}

}  // namespace dmm::sim
