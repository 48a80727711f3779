#include "offload_frames.hpp"

#include <cstring>
#include <vector>

namespace dmm::lwip_dpdk {
namespace {

constexpr std::uint8_t kNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr std::uint8_t kGsoNone = 0, kGsoTcp4 = 1, kGsoTcp6 = 4, kGsoUdpL4 = 5;
constexpr std::uint8_t kGsoEcn = 0x80;
constexpr std::size_t kEthernet = 14;
constexpr std::size_t kUdpHeader = 8;

std::uint16_t read16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
void write16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
// A checksum as it is stored: the complement of the folded sum, with 0 sent as 0xffff (RFC 768 for UDP, where 0
// means "none"; the kernel does the same for TCP).
std::uint16_t stored_checksum(std::uint32_t sum) {
  const std::uint16_t value = static_cast<std::uint16_t>(~checksum_fold(sum));
  return value == 0 ? 0xffff : value;
}

// One datagram of a UDP super-frame: the headers, then `payload`. Lengths, the IPv4 identification and header
// checksum, and the UDP checksum are those of this datagram alone.
void build_udp_segment(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> headers, std::size_t udp,
                       std::span<const std::uint8_t> payload, std::uint16_t index) {
  out.assign(headers.begin(), headers.end());
  out.insert(out.end(), payload.begin(), payload.end());
  std::uint8_t* frame = out.data();
  const bool v4 = read16(frame + 12) == 0x0800;
  const std::uint16_t udp_length = static_cast<std::uint16_t>(kUdpHeader + payload.size());
  std::uint32_t sum = 0;
  if (v4) {
    std::uint8_t* ip = frame + kEthernet;
    const std::size_t ip_header = std::size_t(ip[0] & 0x0f) * 4;
    write16(ip + 2, static_cast<std::uint16_t>(udp - kEthernet + udp_length));
    write16(ip + 4, static_cast<std::uint16_t>(read16(ip + 4) + index));  // as the kernel numbers them
    write16(ip + 10, 0);
    write16(ip + 10, static_cast<std::uint16_t>(~checksum_fold(checksum_add({ip, ip_header}))));
    sum = checksum_add({ip + 12, 8});  // source and destination
  } else {
    std::uint8_t* ip = frame + kEthernet;
    write16(ip + 4, static_cast<std::uint16_t>(udp - kEthernet - 40 + udp_length));  // extension headers kept
    sum = checksum_add({ip + 8, 32});
  }
  sum += 17 + udp_length;  // the pseudo-header's protocol and length
  std::uint8_t* header = frame + udp;
  write16(header + 4, udp_length);
  write16(header + 6, 0);
  sum = checksum_add({header, udp_length}, sum);
  write16(header + 6, stored_checksum(sum));
}

OffloadResult split_udp(std::span<std::uint8_t> frame, const OffloadMarks& marks,
                        const std::function<void(std::span<std::uint8_t>)>& sink) {
  const std::size_t udp = marks.csum_start;
  const std::uint16_t ether_type = read16(frame.data() + 12);
  if (frame.size() < kEthernet + 20 + kUdpHeader || udp + kUdpHeader > frame.size() || marks.csum_offset != 6 ||
      marks.gso_size == 0)
    return OffloadResult::malformed;
  if (ether_type == 0x0800) {
    // IPv4: the UDP header right after the IP header (whose length the header itself gives).
    const std::uint8_t version_length = frame[kEthernet];
    if ((version_length >> 4) != 4 || (version_length & 0x0f) < 5 || udp != kEthernet + std::size_t(version_length & 0x0f) * 4)
      return OffloadResult::malformed;
  } else if (ether_type == 0x86DD) {
    if ((frame[kEthernet] >> 4) != 6 || udp < kEthernet + 40) return OffloadResult::malformed;  // extension headers may follow
  } else {
    return OffloadResult::malformed;
  }
  const auto headers = frame.first(udp + kUdpHeader);
  const auto payload = frame.subspan(udp + kUdpHeader);
  std::vector<std::uint8_t> segment;
  segment.reserve(headers.size() + marks.gso_size);
  std::uint16_t index = 0;
  for (std::size_t at = 0; at < payload.size(); at += marks.gso_size, ++index) {
    const std::size_t n = std::min<std::size_t>(marks.gso_size, payload.size() - at);
    build_udp_segment(segment, headers, udp, payload.subspan(at, n), index);
    sink(segment);
  }
  return OffloadResult::split;
}

}  // namespace

std::uint32_t checksum_add(std::span<const std::uint8_t> data, std::uint32_t sum) {
  std::uint64_t wide = sum;
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {  // four 16-bit words at a time; folded once at the end
    std::uint64_t word;
    std::memcpy(&word, data.data() + i, 8);
    word = __builtin_bswap64(word);  // big-endian words (the buffers are in network order)
    wide += (word >> 48) + ((word >> 32) & 0xffff) + ((word >> 16) & 0xffff) + (word & 0xffff);
  }
  for (; i + 1 < data.size(); i += 2) wide += read16(data.data() + i);
  if (i < data.size()) wide += std::uint32_t(data[i]) << 8;
  while (wide >> 32) wide = (wide & 0xffffffffu) + (wide >> 32);
  return static_cast<std::uint32_t>(wide);
}

std::uint16_t checksum_fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

OffloadResult finish_offloads(std::span<std::uint8_t> frame, const OffloadMarks& marks,
                              const std::function<void(std::span<std::uint8_t>)>& sink) {
  const std::uint8_t gso = marks.gso_type & static_cast<std::uint8_t>(~kGsoEcn);
  if (!(marks.flags & kNeedsChecksum)) {
    if (gso != kGsoNone) return OffloadResult::malformed;  // segmentation always comes with a partial checksum
    sink(frame);
    return OffloadResult::passed;
  }
  if (frame.size() < kEthernet) return OffloadResult::malformed;
  if (gso == kGsoUdpL4) return split_udp(frame, marks, sink);
  if (gso != kGsoNone && gso != kGsoTcp4 && gso != kGsoTcp6) return OffloadResult::malformed;
  // lwIP's buffers count bytes in 16 bits; a TCP super-frame is at most the device's 64 KiB GSO size anyway.
  const std::size_t field = std::size_t(marks.csum_start) + marks.csum_offset;
  if (marks.csum_start < kEthernet || field + 2 > frame.size() || frame.size() > 0xffff)
    return OffloadResult::malformed;
  // The field holds the pseudo-header's sum: the sum from csum_start to the end, complemented, is the checksum.
  const std::uint32_t sum = checksum_add(frame.subspan(marks.csum_start));
  write16(frame.data() + field, stored_checksum(sum));
  sink(frame);
  return OffloadResult::completed;
}

}  // namespace dmm::lwip_dpdk
