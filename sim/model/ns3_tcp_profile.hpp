#pragma once
// How a stack kind's TCP differs from the Linux-like defaults every simulated socket starts with
// (ns3_defaults.cpp). A `kernel` or `ns3` stack keeps them; an `lwip-dpdk` stack gets the options DMM builds lwIP
// with (backends/dpdk_lwip/lwip_port/lwipopts.h), so that a scenario shows what the real user-space stack does:
//   send buffer 512 KiB (TCP_SND_BUF) and receive window 2 MiB (TCP_WND): on a long path an lwIP flow is capped
//     by its send buffer where a Linux one grows to 4 MiB;
//   MSS 1460 without timestamps (lwIP sends none), initial window 3 segments (LWIP_TCP_CALC_INITIAL_CWND:
//     4380 bytes), no SACK (lwIP ignores a peer's SACK blocks when it resends);
//   ACK every second segment, a lone one within 10 ms (the fast timer LwipCore runs every tick);
//   retransmission timeout at least ~300 ms (RTT variance floored at 3 slow ticks of 100 ms), 3 s initial
//     (lwIP's SYN timeout), 6 SYN retries.
// Per-packet cost is not modelled: dmm-bench measured lwIP at ~0.5 CPU-s per GB and 14-15 Gbit/s in bulk on a
// veth (issue 15), which no simulated link of a scenario approaches. Call before Connect/Listen; accepted sockets
// inherit the listener's options through ns-3's Fork.
#include <string_view>

namespace ns3 {
class TcpSocketBase;
}

namespace dmm::sim {

void apply_tcp_profile(ns3::TcpSocketBase& socket, std::string_view stack_kind);

}  // namespace dmm::sim
