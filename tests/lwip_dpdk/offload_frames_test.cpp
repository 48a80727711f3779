// finish_offloads: what a veth peer with default offloads leaves undone (partial checksums, GSO super-frames),
// finished as the kernel would; and nothing done to frames without marks (a corrupt frame stays corrupt).
#include "offload_frames.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace dmm::lwip_dpdk {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint8_t kNeedsChecksum = 1;
constexpr std::uint8_t kGsoTcp4 = 1, kGsoUdp = 3, kGsoUdpL4 = 5;

std::uint16_t get16(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]); }
void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

// Reference checksum: 16-bit words one at a time, as RFC 1071 states it.
std::uint16_t reference_sum(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += std::uint32_t(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += std::uint32_t(p[n - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// Ethernet + IPv4 (20 bytes) + L4 header + payload, with a valid IPv4 header checksum.
Bytes ipv4_frame(std::uint8_t protocol, std::size_t l4_header, std::size_t payload, std::uint16_t id = 7) {
  Bytes f(14 + 20 + l4_header + payload);
  put16(f, 12, 0x0800);
  f[14] = 0x45;
  put16(f, 16, static_cast<std::uint16_t>(20 + l4_header + payload));
  put16(f, 18, id);
  f[22] = 64;
  f[23] = protocol;
  const std::uint8_t addresses[8] = {10, 77, 0, 1, 10, 77, 0, 2};
  std::copy(addresses, addresses + 8, f.begin() + 26);
  put16(f, 24, static_cast<std::uint16_t>(~reference_sum(&f[14], 20)));
  for (std::size_t i = 0; i < payload; ++i) f[14 + 20 + l4_header + i] = static_cast<std::uint8_t>(i * 7 + 3);
  return f;
}

std::uint32_t pseudo_header_v4(const Bytes& f, std::uint8_t protocol, std::size_t l4_length) {
  return std::uint32_t(reference_sum(&f[26], 8)) + protocol + std::uint32_t(l4_length);
}

// The state a kernel leaves with CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
void make_partial(Bytes& f, std::size_t field, std::uint32_t pseudo) {
  std::uint32_t s = pseudo;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  put16(f, field, static_cast<std::uint16_t>(s));
}

bool l4_checksum_valid_v4(const Bytes& f, std::uint8_t protocol) {
  const std::size_t l4 = 14 + 20;
  const std::size_t length = get16(f, 16) - 20u;
  return reference_sum(&f[l4], length, pseudo_header_v4(f, protocol, length)) == 0xffff;
}

std::vector<Bytes> run(Bytes& frame, const OffloadMarks& marks, OffloadResult expected) {
  std::vector<Bytes> out;
  EXPECT_EQ(finish_offloads(frame, marks, [&](std::span<std::uint8_t> f) { out.emplace_back(f.begin(), f.end()); }),
            expected);
  return out;
}

TEST(OffloadFrames, ChecksumAddMatchesTheOneWordAtATimeDefinitionAtEveryLength) {
  Bytes data(1501);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 131 + 17);
  for (std::size_t n : {0u, 1u, 2u, 7u, 8u, 9u, 15u, 16u, 17u, 1500u, 1501u})
    EXPECT_EQ(checksum_fold(checksum_add({data.data(), n})), reference_sum(data.data(), n)) << n << " bytes";
  Bytes ones(64, 0xff);
  EXPECT_EQ(checksum_fold(checksum_add(ones, 0xffff)), reference_sum(ones.data(), ones.size(), 0xffff));
}

TEST(OffloadFrames, APartialTcpChecksumIsCompletedSoThatAReceiverVerifiesIt) {
  Bytes f = ipv4_frame(6, 20, 1000);
  f[14 + 20 + 12] = 0x50;  // data offset: 5 words
  make_partial(f, 14 + 20 + 16, pseudo_header_v4(f, 6, 1020));
  ASSERT_FALSE(l4_checksum_valid_v4(f, 6));  // as it arrives from a veth peer with tx-checksumming on
  auto out = run(f, {.flags = kNeedsChecksum, .csum_start = 34, .csum_offset = 16}, OffloadResult::completed);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(l4_checksum_valid_v4(out[0], 6));
}

TEST(OffloadFrames, ATcpSuperFrameStaysOneSegmentWithItsChecksumCompleted) {
  Bytes f = ipv4_frame(6, 32, 60000);  // TSO: 41 segments' worth in one frame
  f[14 + 20 + 12] = 0x80;
  make_partial(f, 14 + 20 + 16, pseudo_header_v4(f, 6, 60032));
  auto out = run(f, {.flags = kNeedsChecksum, .gso_type = kGsoTcp4, .gso_size = 1448, .csum_start = 34, .csum_offset = 16},
                 OffloadResult::completed);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].size(), 14u + 20 + 32 + 60000);
  EXPECT_TRUE(l4_checksum_valid_v4(out[0], 6));
}

TEST(OffloadFrames, AUdpSuperFrameIsSplitIntoDatagramsOfGsoSizeEachWithItsOwnLengthsAndChecksums) {
  Bytes f = ipv4_frame(17, 8, 2500, 100);
  put16(f, 34 + 4, 2508);
  make_partial(f, 34 + 6, pseudo_header_v4(f, 17, 2508));
  auto out = run(f, {.flags = kNeedsChecksum, .gso_type = kGsoUdpL4, .gso_size = 1000, .csum_start = 34, .csum_offset = 6},
                 OffloadResult::split);
  ASSERT_EQ(out.size(), 3u);
  const std::size_t sizes[] = {1000, 1000, 500};
  for (std::size_t i = 0; i < 3; ++i) {
    const Bytes& d = out[i];
    ASSERT_EQ(d.size(), 14 + 20 + 8 + sizes[i]) << i;
    EXPECT_EQ(get16(d, 16), 20 + 8 + sizes[i]) << "IPv4 total length of datagram " << i;
    EXPECT_EQ(get16(d, 18), 100 + i) << "IPv4 identification of datagram " << i;
    EXPECT_EQ(reference_sum(&d[14], 20), 0xffff) << "IPv4 header checksum of datagram " << i;
    EXPECT_EQ(get16(d, 34 + 4), 8 + sizes[i]) << "UDP length of datagram " << i;
    EXPECT_TRUE(l4_checksum_valid_v4(d, 17)) << "UDP checksum of datagram " << i;
    EXPECT_EQ(d[42], f[42 + 1000 * i]) << "payload of datagram " << i << " starts where it should";
  }
}

TEST(OffloadFrames, AFrameWithoutMarksIsHandedOnUntouchedSoACorruptOneStaysCorrupt) {
  Bytes f = ipv4_frame(6, 20, 100);
  f[14 + 20 + 12] = 0x50;
  put16(f, 14 + 20 + 16, 0x1234);  // wrong, as a frame damaged on a wire would be
  const Bytes before = f;
  auto out = run(f, {}, OffloadResult::passed);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], before);
  EXPECT_FALSE(l4_checksum_valid_v4(out[0], 6));
}

TEST(OffloadFrames, MarksThatPointOutsideTheFrameOrAskForWhatIsNotDoneDropIt) {
  Bytes f = ipv4_frame(6, 20, 100);
  run(f, {.flags = kNeedsChecksum, .csum_start = 34, .csum_offset = 200}, OffloadResult::malformed);
  run(f, {.flags = kNeedsChecksum, .csum_start = 4, .csum_offset = 2}, OffloadResult::malformed);
  run(f, {.gso_type = kGsoTcp4, .gso_size = 1448}, OffloadResult::malformed);  // GSO without a partial checksum
  run(f, {.flags = kNeedsChecksum, .gso_type = kGsoUdp, .gso_size = 1000, .csum_start = 34, .csum_offset = 6},
      OffloadResult::malformed);  // UFO: no kernel since 4.14 makes it
  Bytes u = ipv4_frame(17, 8, 100);
  run(u, {.flags = kNeedsChecksum, .gso_type = kGsoUdpL4, .gso_size = 0, .csum_start = 34, .csum_offset = 6},
      OffloadResult::malformed);
  Bytes tiny(10);
  run(tiny, {.flags = kNeedsChecksum, .csum_start = 0, .csum_offset = 0}, OffloadResult::malformed);
}

}  // namespace
}  // namespace dmm::lwip_dpdk
