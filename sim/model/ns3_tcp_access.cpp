#include "model/ns3_tcp_access.hpp"

#include "ns3/tcp-congestion-ops.h"
#include "ns3/tcp-socket-base.h"

namespace dmm::sim {
namespace {

// A class derived from TcpSocketBase may name its protected members, and so form pointers to them
// ([class.protected]); calling through such a pointer needs no further access. No object of this type exists.
struct TcpSocketAccess : ns3::TcpSocketBase {
  static constexpr auto send_rst = &TcpSocketAccess::SendRST;
  static constexpr auto congestion_control = &TcpSocketAccess::m_congestionControl;
};

}  // namespace

void abort_with_reset(ns3::TcpSocketBase& socket) { (socket.*TcpSocketAccess::send_rst)(); }

std::string congestion_control_name(const ns3::TcpSocketBase& socket) {
  const ns3::Ptr<ns3::TcpCongestionOps>& ops = socket.*TcpSocketAccess::congestion_control;
  return ops ? ops->GetInstanceTypeId().GetName() : std::string();
}

}  // namespace dmm::sim
