// libFuzzer target for what the AF_PACKET port does with frame bytes it did not write: finishing the offloads the
// kernel marked (finish_offloads: a checksum to complete, a super-frame to pass whole or split), and joining
// frames into super-frames (TcpCoalescer::plan). The first 10 bytes are the virtio_net_hdr (as the kernel lays it
// out); the rest is the frame, also cut into up to 8 frames for the coalescer at offsets taken from its bytes.
// Every output must lie inside what was given, and no input may crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "offload_frames.hpp"
#include "tcp_coalescer.hpp"

using namespace dmm::lwip_dpdk;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 10) return 0;
  OffloadMarks marks;
  marks.flags = data[0];
  marks.gso_type = data[1];
  auto u16 = [&](std::size_t at) { return static_cast<std::uint16_t>(data[at] | (data[at + 1] << 8)); };
  marks.hdr_len = u16(2);
  marks.gso_size = u16(4);
  marks.csum_start = u16(6);
  marks.csum_offset = u16(8);
  std::vector<std::uint8_t> frame(data + 10, data + size);
  std::size_t total = 0;
  (void)finish_offloads(frame, marks, [&](std::span<std::uint8_t> out) {
    // Touch every byte handed on: ASan reports any that lie outside a live buffer.
    for (std::uint8_t b : out) total += b;
  });

  std::vector<TcpCoalescer::Piece> pieces;
  const std::uint8_t* rest = data + 10;
  std::size_t left = size - 10;
  for (int i = 0; i < 8 && left > 0; ++i) {
    const std::size_t cut = i == 7 ? left : std::min<std::size_t>(left, 40 + (rest[0] % 64) * 24);
    pieces.push_back({rest, cut});
    rest += cut;
    left -= cut;
  }
  TcpCoalescer coalescer;
  coalescer.plan(pieces);
  for (const auto& message : coalescer.messages())
    for (std::size_t p = 0; p < message.pieces; ++p) {
      const auto& piece = coalescer.pieces()[message.first_piece + p];
      for (std::size_t b = 0; b < piece.length; ++b) total += piece.data[b];
    }
  return total == 0xdeadbeef ? 1 : 0;  // keep the reads
}
