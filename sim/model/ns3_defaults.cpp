#include "model/ns3_defaults.hpp"

#include "ns3/boolean.h"
#include "ns3/config.h"
#include "ns3/double.h"
#include "ns3/nstime.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

namespace dmm::sim {

void configure_ns3_defaults() {
  using ns3::Config::SetDefault;
  // MSS of a 1500-byte MTU path with TCP timestamps on, as Linux sends it (1460 - 12 bytes of option).
  SetDefault("ns3::TcpSocket::SegmentSize", ns3::UintegerValue(1448));
  // ns-3 has no buffer auto-tuning, so give every socket the ceiling Linux auto-tuning grows to
  // (net.ipv4.tcp_wmem / tcp_rmem maxima: 4 MiB / 6 MiB). Anything smaller caps the window below the
  // bandwidth-delay product of long fat paths (100 Mbit/s x 100 ms = 1.25 MB) and the simulation would blame
  // the path for a buffer limit.
  SetDefault("ns3::TcpSocket::SndBufSize", ns3::UintegerValue(4u << 20));
  SetDefault("ns3::TcpSocket::RcvBufSize", ns3::UintegerValue(6u << 20));
  // RFC 6928 initial window, Linux's default since 2.6.39.
  SetDefault("ns3::TcpSocket::InitialCwnd", ns3::UintegerValue(10));
  // ACK every second segment, and at the latest after Linux's minimum delayed-ACK time (ns-3 waits 200 ms).
  SetDefault("ns3::TcpSocket::DelAckCount", ns3::UintegerValue(2));
  SetDefault("ns3::TcpSocket::DelAckTimeout", ns3::TimeValue(ns3::MilliSeconds(40)));
  // Initial SYN retransmission timeout of RFC 6298 / Linux (ns-3 uses 3 s); 6 SYN retries like tcp_syn_retries.
  SetDefault("ns3::TcpSocket::ConnTimeout", ns3::TimeValue(ns3::Seconds(1)));
  SetDefault("ns3::TcpSocket::ConnCount", ns3::UintegerValue(6));
  // Linux's TCP_RTO_MIN (ns-3's 1 s would make every loss look like a long outage).
  SetDefault("ns3::TcpSocketBase::MinRto", ns3::TimeValue(ns3::MilliSeconds(200)));
  // TIME_WAIT of 2 x 30 s, Linux's TCP_TIMEWAIT_LEN (ns-3: 2 x 120 s); closed sockets are freed sooner.
  SetDefault("ns3::TcpSocketBase::MaxSegLifetime", ns3::DoubleValue(30));
  SetDefault("ns3::TcpSocketBase::Sack", ns3::BooleanValue(true));
  SetDefault("ns3::TcpSocketBase::WindowScaling", ns3::BooleanValue(true));
  SetDefault("ns3::TcpSocketBase::Timestamp", ns3::BooleanValue(true));
  // Proportional rate reduction is Linux's loss recovery; the congestion-control variant is set per socket.
  SetDefault("ns3::TcpL4Protocol::RecoveryType", ns3::StringValue("ns3::TcpPrrRecovery"));
  // Linux paces only with the fq qdisc or BBR; BBR sockets switch pacing on for themselves.
  SetDefault("ns3::TcpSocketState::EnablePacing", ns3::BooleanValue(false));
  // net.core.rmem_default (ns-3 uses 128 KiB).
  SetDefault("ns3::UdpSocket::RcvBufSize", ns3::UintegerValue(212992));
}

}  // namespace dmm::sim
