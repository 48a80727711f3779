#pragma once
// TCP segmentation offload in reverse, for frames lwIP sends through an AF_PACKET port: consecutive MSS-sized
// segments of one connection that lwIP emitted in one burst go to the kernel as one GSO super-frame (a
// virtio_net_hdr with gso_type TCPV4/TCPV6 and gso_size = the MSS). Over a veth the peer's TCP then takes up to
// 64 KiB per packet, as it does from a kernel sender with TSO; towards a real NIC the kernel cuts the super-frame
// back into the original segments (software GSO). Every per-packet cost in the kernel (packet_sendmsg, veth,
// the peer's receive path) is paid once per super-frame instead of once per 1448 bytes: this, not lwIP, is where
// the time of a bulk transfer went (issue 15's profile).
//
// Only plain data segments join a run: ACK with or without PSH (PSH ends a run, as GSO puts it on the last
// segment), same addresses, ports, acknowledgement, window and options, contiguous sequence numbers, every
// segment but the last exactly gso_size long, IPv4 without options or fragments, IPv6 without extension headers.
// Anything else (SYN, FIN, RST, pure ACKs, UDP, ARP) goes as it came.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "offload_frames.hpp"

namespace dmm::lwip_dpdk {

class TcpCoalescer {
public:
  struct Piece {
    const std::uint8_t* data;
    std::size_t length;
  };
  // One frame to send: `marks` for its virtio_net_hdr, its bytes as pieces to gather (a super-frame's rewritten
  // headers, then each segment's payload where it lies).
  struct Message {
    OffloadMarks marks;
    std::size_t first_piece = 0;
    std::size_t pieces = 0;
    std::size_t first_frame = 0;  // the frames of plan()'s input it carries: [first_frame, first_frame + frames)
    std::size_t frames = 0;
  };
  static constexpr std::size_t kMaxSuperFrame = 65000;  // IP length stays below 64 KiB with room to spare
  // Segments per super-frame: a message's pieces stay far below the kernel's 1024 iovecs (UIO_MAXIOV) whatever
  // the segment size; 64 full segments are already more than 64 KiB.
  static constexpr std::size_t kMaxRunFrames = 64;

  // Plans the messages for `frames` (whole Ethernet frames, in sending order). The result stays valid until the
  // next call; pieces point into `frames` and into this object.
  void plan(std::span<const Piece> frames);
  const std::vector<Message>& messages() const { return messages_; }
  const std::vector<Piece>& pieces() const { return pieces_; }

private:
  static constexpr std::size_t kMaxHeaders = 14 + 40 + 60;
  void add_run(std::span<const Piece> run);

  std::vector<Message> messages_;
  std::vector<Piece> pieces_;
  std::vector<std::array<std::uint8_t, kMaxHeaders>> headers_;  // reserved up front: pieces point into it
  std::size_t frames_planned_ = 0;
};

}  // namespace dmm::lwip_dpdk
