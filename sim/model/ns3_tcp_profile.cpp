#include "model/ns3_tcp_profile.hpp"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/nstime.h"
#include "ns3/tcp-socket-base.h"
#include "ns3/uinteger.h"

namespace dmm::sim {

void apply_tcp_profile(ns3::TcpSocketBase& socket, std::string_view stack_kind) {
  if (stack_kind != "lwip-dpdk") return;
  socket.SetAttribute("SndBufSize", ns3::UintegerValue(512u << 10));
  socket.SetAttribute("RcvBufSize", ns3::UintegerValue(2u << 20));
  socket.SetAttribute("SegmentSize", ns3::UintegerValue(1460));
  socket.SetAttribute("Timestamp", ns3::BooleanValue(false));
  socket.SetAttribute("Sack", ns3::BooleanValue(false));
  socket.SetAttribute("InitialCwnd", ns3::UintegerValue(3));
  socket.SetAttribute("DelAckCount", ns3::UintegerValue(2));
  socket.SetAttribute("DelAckTimeout", ns3::TimeValue(ns3::MilliSeconds(10)));
  socket.SetAttribute("MinRto", ns3::TimeValue(ns3::MilliSeconds(300)));
  socket.SetAttribute("ConnTimeout", ns3::TimeValue(ns3::Seconds(3)));
  socket.SetAttribute("ConnCount", ns3::UintegerValue(6));
  socket.SetAttribute("MaxSegLifetime", ns3::DoubleValue(60));  // lwIP's TCP_MSL: TIME_WAIT lasts 120 s
}

}  // namespace dmm::sim
