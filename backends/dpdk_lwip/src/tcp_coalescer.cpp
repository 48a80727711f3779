#include "tcp_coalescer.hpp"

#include <cstring>
#include <optional>

namespace dmm::lwip_dpdk {
namespace {

constexpr std::size_t kEthernet = 14;
constexpr std::uint8_t kAck = 0x10, kPsh = 0x08;
constexpr std::uint8_t kNeedsChecksum = 1, kGsoTcp4 = 1, kGsoTcp6 = 4;

std::uint16_t read16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t read32(const std::uint8_t* p) { return (std::uint32_t(read16(p)) << 16) | read16(p + 2); }
void write16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// A data segment that may join a run, as its frame shows it.
struct Segment {
  bool v4;
  std::size_t ip_header;   // bytes
  std::size_t tcp_header;  // bytes, options included
  std::size_t payload;     // bytes
  std::uint32_t seq;
  std::uint8_t flags;
  std::size_t headers() const { return kEthernet + ip_header + tcp_header; }
};

std::optional<Segment> data_segment(const TcpCoalescer::Piece& f) {
  const std::uint8_t* p = f.data;
  if (f.length < kEthernet + 40) return std::nullopt;
  const std::uint16_t type = read16(p + 12);
  const std::uint8_t* ip = p + kEthernet;
  Segment s{};
  std::size_t ip_length;
  if (type == 0x0800) {
    if (ip[0] != 0x45 || ip[9] != 6 || (read16(ip + 6) & 0x3fff) != 0) return std::nullopt;  // options, not TCP, fragment
    s.v4 = true;
    s.ip_header = 20;
    ip_length = read16(ip + 2);
  } else if (type == 0x86DD) {
    if (ip[6] != 6) return std::nullopt;  // an extension header, or not TCP
    s.v4 = false;
    s.ip_header = 40;
    ip_length = 40 + std::size_t(read16(ip + 4));
  } else {
    return std::nullopt;
  }
  if (kEthernet + ip_length != f.length) return std::nullopt;  // padding or a short frame: leave it alone
  if (ip_length < s.ip_header + 20) return std::nullopt;         // no room for a TCP header
  const std::uint8_t* tcp = ip + s.ip_header;
  s.tcp_header = std::size_t(tcp[12] >> 4) * 4;
  if (s.tcp_header < 20 || s.ip_header + s.tcp_header >= ip_length) return std::nullopt;  // no payload
  s.flags = tcp[13];
  if ((s.flags & ~kPsh) != kAck) return std::nullopt;  // SYN, FIN, RST, URG, ECN flags: as it came
  s.payload = ip_length - s.ip_header - s.tcp_header;
  s.seq = read32(tcp + 4);
  return s;
}

// `next` continues the run that ends with `last` (whose first segment is `first`).
bool continues(const TcpCoalescer::Piece& first_frame, const Segment& first, const Segment& last,
               const TcpCoalescer::Piece& next_frame, const Segment& next, std::size_t run_bytes,
               std::size_t run_frames) {
  if (next.v4 != first.v4 || next.tcp_header != first.tcp_header) return false;
  if ((last.flags & kPsh) || last.payload != first.payload || next.payload > first.payload) return false;
  if (next.seq != last.seq + static_cast<std::uint32_t>(last.payload)) return false;
  if (run_bytes + next.payload > TcpCoalescer::kMaxSuperFrame) return false;
  if (run_frames >= TcpCoalescer::kMaxRunFrames) return false;
  const std::uint8_t* a = first_frame.data;
  const std::uint8_t* b = next_frame.data;
  if (std::memcmp(a, b, 14) != 0) return false;  // MAC addresses and type
  const std::uint8_t* ia = a + kEthernet;
  const std::uint8_t* ib = b + kEthernet;
  if (first.v4) {
    // Version/IHL, TOS, TTL, protocol, addresses; not the length, identification or checksum.
    if (ia[0] != ib[0] || ia[1] != ib[1] || ia[8] != ib[8] || std::memcmp(ia + 12, ib + 12, 8) != 0) return false;
  } else if (std::memcmp(ia, ib, 4) != 0 || std::memcmp(ia + 6, ib + 6, 34) != 0) {
    return false;  // traffic class, flow label, next header, hop limit, addresses
  }
  const std::uint8_t* ta = ia + first.ip_header;
  const std::uint8_t* tb = ib + first.ip_header;
  // Ports; acknowledgement; data offset; window; options. Not the sequence number, flags or checksum.
  return std::memcmp(ta, tb, 4) == 0 && std::memcmp(ta + 8, tb + 8, 5) == 0 && std::memcmp(ta + 14, tb + 14, 2) == 0 &&
         std::memcmp(ta + 20, tb + 20, first.tcp_header - 20) == 0;
}

}  // namespace

void TcpCoalescer::plan(std::span<const Piece> frames) {
  messages_.clear();
  pieces_.clear();
  headers_.clear();
  frames_planned_ = 0;
  headers_.reserve(frames.size());  // at most one rewritten header per frame: no reallocation below
  pieces_.reserve(2 * frames.size());
  std::size_t i = 0;
  while (i < frames.size()) {
    const auto first = data_segment(frames[i]);
    std::size_t end = i + 1;
    if (first) {
      Segment last = *first;
      std::size_t bytes = first->payload;
      for (; end < frames.size(); ++end) {
        const auto next = data_segment(frames[end]);
        if (!next || !continues(frames[i], *first, last, frames[end], *next, bytes, end - i)) break;
        bytes += next->payload;
        last = *next;
      }
    }
    add_run(frames.subspan(i, end - i));
    i = end;
  }
}

void TcpCoalescer::add_run(std::span<const Piece> run) {
  Message message;
  message.first_piece = pieces_.size();
  message.first_frame = frames_planned_;
  message.frames = run.size();
  frames_planned_ += run.size();
  if (run.size() == 1) {  // as it came, with no offload asked
    pieces_.push_back(run[0]);
    message.pieces = 1;
    messages_.push_back(message);
    return;
  }
  const Segment first = *data_segment(run[0]);
  const Segment last = *data_segment(run.back());
  std::size_t payload = 0;
  for (const Piece& f : run) payload += f.length - first.headers();
  auto& header = headers_.emplace_back();
  std::memcpy(header.data(), run[0].data, first.headers());
  std::uint8_t* ip = header.data() + kEthernet;
  std::uint8_t* tcp = ip + first.ip_header;
  const std::size_t tcp_length = first.tcp_header + payload;
  std::uint32_t pseudo;
  if (first.v4) {
    write16(ip + 2, static_cast<std::uint16_t>(first.ip_header + tcp_length));
    write16(ip + 10, 0);
    write16(ip + 10, static_cast<std::uint16_t>(~checksum_fold(checksum_add({ip, first.ip_header}))));
    pseudo = checksum_add({ip + 12, 8});
  } else {
    write16(ip + 4, static_cast<std::uint16_t>(tcp_length));
    pseudo = checksum_add({ip + 8, 32});
  }
  tcp[13] = last.flags;  // PSH, if any, on the last segment, where GSO puts it back
  // What a CHECKSUM_PARTIAL packet holds: the folded pseudo-header sum over the super-frame's whole TCP length.
  write16(tcp + 16, checksum_fold(pseudo + 6 + static_cast<std::uint32_t>(tcp_length)));
  message.marks = OffloadMarks{.flags = kNeedsChecksum,
                               .gso_type = first.v4 ? kGsoTcp4 : kGsoTcp6,
                               .hdr_len = static_cast<std::uint16_t>(first.headers()),
                               .gso_size = static_cast<std::uint16_t>(first.payload),
                               .csum_start = static_cast<std::uint16_t>(kEthernet + first.ip_header),
                               .csum_offset = 16};
  pieces_.push_back({header.data(), first.headers()});
  for (const Piece& f : run) pieces_.push_back({f.data + first.headers(), f.length - first.headers()});
  message.pieces = 1 + run.size();
  messages_.push_back(message);
}

}  // namespace dmm::lwip_dpdk
