// TcpCoalescer: which frames join a GSO super-frame, and that a super-frame is what the kernel expects (the
// partial checksum convention finish_offloads completes, lengths, PSH on the last segment).
#include "tcp_coalescer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace dmm::lwip_dpdk {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint8_t kAck = 0x10, kPsh = 0x08, kFin = 0x01;

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}
std::uint16_t get16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]); }

// An IPv4 TCP segment as lwIP sends it (full checksums), payload bytes numbered by sequence number.
Bytes segment(std::uint32_t seq, std::size_t payload, std::uint8_t flags = kAck, std::uint16_t port = 5201) {
  Bytes f(14 + 20 + 20 + payload);
  put16(f, 12, 0x0800);
  f[14] = 0x45;
  put16(f, 16, static_cast<std::uint16_t>(40 + payload));
  put16(f, 18, static_cast<std::uint16_t>(seq));  // an identification that differs per segment
  f[22] = 255;
  f[23] = 6;
  const std::uint8_t a[8] = {10, 79, 2, 2, 10, 79, 2, 1};
  std::copy(a, a + 8, f.begin() + 26);
  put16(f, 24, static_cast<std::uint16_t>(~checksum_fold(checksum_add({&f[14], 20}))));
  put16(f, 34, 49152);
  put16(f, 36, port);
  put32(f, 38, seq);
  put32(f, 42, 777);
  f[46] = 0x50;
  f[47] = flags;
  put16(f, 48, 4000);
  for (std::size_t i = 0; i < payload; ++i) f[54 + i] = static_cast<std::uint8_t>((seq + i) * 13);
  std::uint32_t sum = checksum_add({&f[26], 8}) + 6 + std::uint32_t(20 + payload);
  sum = checksum_add({&f[34], 20 + payload}, sum);
  put16(f, 50, static_cast<std::uint16_t>(~checksum_fold(sum)));
  return f;
}

struct Planned {
  std::vector<OffloadMarks> marks;
  std::vector<Bytes> frames;  // each message gathered
};

Planned plan(TcpCoalescer& c, const std::vector<Bytes>& frames) {
  std::vector<TcpCoalescer::Piece> pieces;
  for (const Bytes& f : frames) pieces.push_back({f.data(), f.size()});
  c.plan(pieces);
  Planned out;
  for (const auto& m : c.messages()) {
    Bytes gathered;
    for (std::size_t p = 0; p < m.pieces; ++p) {
      const auto& piece = c.pieces()[m.first_piece + p];
      gathered.insert(gathered.end(), piece.data, piece.data + piece.length);
    }
    out.marks.push_back(m.marks);
    out.frames.push_back(std::move(gathered));
  }
  return out;
}

TEST(TcpCoalescer, ConsecutiveSegmentsBecomeOneSuperFrameTheKernelCanFinish) {
  std::vector<Bytes> frames;
  for (std::uint32_t i = 0; i < 5; ++i) frames.push_back(segment(1000 + i * 1448, i == 4 ? 500 : 1448, i == 4 ? kAck | kPsh : kAck));
  TcpCoalescer c;
  Planned p = plan(c, frames);
  ASSERT_EQ(p.frames.size(), 1u);
  Bytes& super = p.frames[0];
  const OffloadMarks& m = p.marks[0];
  EXPECT_EQ(m.gso_type, 1);  // TCPV4
  EXPECT_EQ(m.gso_size, 1448);
  EXPECT_EQ(m.hdr_len, 54);
  EXPECT_EQ(m.csum_start, 34);
  EXPECT_EQ(m.csum_offset, 16);
  ASSERT_EQ(super.size(), 54u + 4 * 1448 + 500);
  EXPECT_EQ(get16(super, 16), 40 + 4 * 1448 + 500);        // IPv4 total length of the whole
  EXPECT_EQ(checksum_fold(checksum_add({&super[14], 20})), 0xffff);  // a valid IPv4 header checksum
  EXPECT_EQ(super[47], kAck | kPsh);                        // PSH from the last segment
  for (std::size_t i = 0; i < 4 * 1448 + 500; ++i)
    ASSERT_EQ(super[54 + i], static_cast<std::uint8_t>((1000 + i) * 13)) << "payload byte " << i;
  // The receiving kernel (or finish_offloads, which follows it) completes the checksum over the whole.
  std::vector<Bytes> finished;
  ASSERT_EQ(finish_offloads(super, m, [&](std::span<std::uint8_t> f) { finished.emplace_back(f.begin(), f.end()); }),
            OffloadResult::completed);
  std::uint32_t sum = checksum_add({&finished[0][26], 8}) + 6 + std::uint32_t(20 + 4 * 1448 + 500);
  EXPECT_EQ(checksum_fold(checksum_add({&finished[0][34], 20 + 4 * 1448 + 500}, sum)), 0xffff);
}

TEST(TcpCoalescer, RunsStopAtAGapAPushAnotherFlowAShortSegmentOrAControlSegment) {
  std::vector<Bytes> frames{segment(0, 1448),        segment(1448, 1448, kAck | kPsh),  // run 1 ends at PSH
                            segment(2896, 1448),     segment(5000, 1448),               // a gap: two runs
                            segment(6448, 700),      segment(7148, 1448),               // short one ends a run
                            segment(8596, 1448, kAck, 80),                              // another flow
                            segment(10044, 1448, kAck | kFin), segment(11492, 0)};       // FIN, pure ACK
  TcpCoalescer c;
  Planned p = plan(c, frames);
  std::vector<std::size_t> sizes;
  for (const Bytes& f : p.frames) sizes.push_back(f.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{54 + 2 * 1448, 54 + 1448, 54 + 1448 + 700, 54 + 1448, 54 + 1448,
                                             54 + 1448, 54}));
  EXPECT_EQ(p.marks[0].gso_type, 1);
  for (std::size_t i : {1u, 3u, 4u, 5u, 6u}) EXPECT_EQ(p.marks[i].gso_type, 0) << i << ": sent as it came";
  EXPECT_EQ(p.frames[1], frames[2]);  // untouched
}

TEST(TcpCoalescer, ASuperFrameStaysBelowSixtyFourKilobytes) {
  std::vector<Bytes> frames;
  for (std::uint32_t i = 0; i < 100; ++i) frames.push_back(segment(i * 1448, 1448));
  TcpCoalescer c;
  Planned p = plan(c, frames);
  std::size_t payload = 0;
  for (const Bytes& f : p.frames) {
    EXPECT_LE(f.size() - 14, 65535u);
    payload += f.size() - 54;
  }
  EXPECT_EQ(payload, 100u * 1448);
  EXPECT_EQ(p.frames.size(), 3u);  // 44 + 44 + 12 segments
}

TEST(TcpCoalescer, ARunOfTinySegmentsStopsAtSixtyFourFramesAndEachMessageNamesItsFrames) {
  std::vector<Bytes> frames;
  for (std::uint32_t i = 0; i < 150; ++i) frames.push_back(segment(i * 10, 10));  // 10-byte segments
  TcpCoalescer c;
  Planned p = plan(c, frames);
  ASSERT_EQ(p.frames.size(), 3u);  // 64 + 64 + 22: far below the kernel's 1024 iovecs per message
  std::size_t next = 0;
  for (const auto& m : c.messages()) {
    EXPECT_EQ(m.first_frame, next);
    EXPECT_LE(m.frames, TcpCoalescer::kMaxRunFrames);
    EXPECT_EQ(m.pieces, m.frames + 1);  // the rewritten headers, then each frame's payload
    next += m.frames;
  }
  EXPECT_EQ(next, 150u);
}

}  // namespace
}  // namespace dmm::lwip_dpdk
