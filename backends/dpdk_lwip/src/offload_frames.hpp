#pragma once
// What the kernel leaves undone in a frame it hands to a packet socket with PACKET_VNET_HDR, finished in user
// space, as the kernel's own skb_checksum_help and GSO segmentation would before a NIC without offloads.
//
// A veth peer with its default offloads (tx-checksumming, TSO) sends frames from the local kernel whose TCP/UDP
// checksum holds only the pseudo-header sum (VIRTIO_NET_HDR_F_NEEDS_CSUM: "fill in from csum_start, store at
// csum_offset"), and TCP/UDP "super-frames" of up to 64 KiB (gso_type, gso_size). Only frames whose checksums the
// kernel computed itself (a local sender) or verified (segments GRO merged) carry NEEDS_CSUM; any other frame,
// one from a wire included, is handed on untouched and lwIP checks its checksums as always. GSO frames without
// NEEDS_CSUM (fraglist GRO, off by default) are dropped and counted.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace dmm::lwip_dpdk {

// The virtio_net_hdr fields the kernel fills (linux/virtio_net.h; host byte order on x86/arm little-endian hosts,
// which is what the kernel writes for packet sockets).
struct OffloadMarks {
  std::uint8_t flags = 0;     // VIRTIO_NET_HDR_F_NEEDS_CSUM (1), _DATA_VALID (2)
  std::uint8_t gso_type = 0;  // VIRTIO_NET_HDR_GSO_NONE (0), TCPV4 (1), UDP (3), TCPV6 (4), UDP_L4 (5); ECN (0x80)
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
};

enum class OffloadResult {
  passed,          // no marks: handed on as it came
  completed,       // checksum filled in; one frame handed on (a TCP super-frame is one large segment)
  split,           // a UDP super-frame, handed on as one datagram per gso_size
  malformed,       // the marks point outside the frame, or ask for what this does not do: dropped
};

// Finishes `frame` (a whole Ethernet frame, as received) according to `marks` and hands the result to `sink`
// (once, or once per UDP segment). A TCP super-frame stays one segment: lwIP takes segments larger than its MSS,
// so 64 KiB arrive in one pass, as GRO would give them to a kernel socket.
OffloadResult finish_offloads(std::span<std::uint8_t> frame, const OffloadMarks& marks,
                              const std::function<void(std::span<std::uint8_t>)>& sink);

// The Internet checksum's running sum over `data` (RFC 1071), to be folded; exposed for the tests.
std::uint32_t checksum_add(std::span<const std::uint8_t> data, std::uint32_t sum = 0);
std::uint16_t checksum_fold(std::uint32_t sum);

}  // namespace dmm::lwip_dpdk
