#pragma once
// A new connection on a 4-tuple that lwIP still holds in TIME-WAIT. lwIP answers such a SYN with an ACK and ignores
// the peer's RST (RFC 1337), so the connection fails until the 2 MSL (lwIP's TCP_MSL: 120 s) have passed — and a
// busy client's ephemeral ports come round again long before that: a server on lwIP stopped accepting after about
// 3,000 short connections from one host. Linux (tcp_timewait_state_process) and BSD take such a SYN as a new
// connection when its sequence number is beyond what the old one received (RFC 1122 4.2.2.13), which the peer's
// clock-driven initial sequence numbers ensure. This does the same before lwIP sees the frame: the TIME-WAIT pcb
// goes, and the SYN reaches the listener.
#include <cstddef>
#include <cstdint>

namespace dmm::lwip_dpdk {

// Looks at one received Ethernet frame; true if a TIME-WAIT pcb was let go for its SYN.
bool let_syn_reuse_time_wait(const std::uint8_t* frame, std::size_t length);

}  // namespace dmm::lwip_dpdk
