#include "dmm/service/udp_packet.hpp"

#include <cstdint>
#include <cstring>
#include <string>

namespace dmm::service {
namespace {

constexpr std::uint8_t kUdp = 17;
constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr std::size_t kUdpHeader = 8;

std::uint16_t read16(const std::byte* p) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
}

void write16(std::byte* p, std::uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v & 0xff);
}

// RFC 1071's one's-complement sum, carried on across calls.
std::uint32_t add_to_sum(std::uint32_t sum, const std::byte* data, std::size_t length) {
  for (std::size_t i = 0; i + 1 < length; i += 2) sum += read16(data + i);
  if (length % 2 == 1) sum += std::to_integer<std::uint32_t>(data[length - 1]) << 8;
  return sum;
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

Error bad(const std::string& what) { return make_error(EINVAL, "not a UDP packet: " + what); }

Result<UdpPacket> parse_udp(std::span<const std::byte> udp, IpFamily family, const std::byte* source,
                            const std::byte* destination) {
  if (udp.size() < kUdpHeader) return bad("a UDP header of " + std::to_string(udp.size()) + " bytes");
  const std::size_t length = read16(udp.data() + 4);
  if (length < kUdpHeader || length > udp.size())
    return bad("UDP length " + std::to_string(length) + " in " + std::to_string(udp.size()) + " bytes");
  UdpPacket out;
  const std::size_t address_bytes = family == IpFamily::v4 ? 4 : 16;
  out.source.address.family = out.destination.address.family = family;
  std::memcpy(out.source.address.bytes.data(), source, address_bytes);
  std::memcpy(out.destination.address.bytes.data(), destination, address_bytes);
  out.source.port = read16(udp.data());
  out.destination.port = read16(udp.data() + 2);
  out.payload = udp.subspan(kUdpHeader, length - kUdpHeader);
  return out;
}

}  // namespace

Result<UdpPacket> parse_udp_packet(std::span<const std::byte> packet) {
  if (packet.empty()) return bad("an empty packet");
  const unsigned version = std::to_integer<unsigned>(packet[0]) >> 4;
  if (version == 4) {
    if (packet.size() < kIpv4Header) return bad("an IPv4 header of " + std::to_string(packet.size()) + " bytes");
    const std::size_t header = (std::to_integer<std::size_t>(packet[0]) & 0x0f) * 4;
    const std::size_t total = read16(packet.data() + 2);
    if (header < kIpv4Header || total < header || total > packet.size())
      return bad("IPv4 lengths " + std::to_string(header) + "/" + std::to_string(total) + " in " +
                 std::to_string(packet.size()) + " bytes");
    if ((read16(packet.data() + 6) & 0x3fff) != 0) return bad("an IPv4 fragment");
    const unsigned protocol = std::to_integer<unsigned>(packet[9]);
    if (protocol != kUdp) return bad("IP protocol " + std::to_string(protocol));
    return parse_udp(packet.subspan(header, total - header), IpFamily::v4, packet.data() + 12, packet.data() + 16);
  }
  if (version == 6) {
    if (packet.size() < kIpv6Header) return bad("an IPv6 header of " + std::to_string(packet.size()) + " bytes");
    const std::size_t payload = read16(packet.data() + 4);
    if (kIpv6Header + payload > packet.size())
      return bad("IPv6 payload length " + std::to_string(payload) + " in " + std::to_string(packet.size()) + " bytes");
    // Sockets of the local kernel put no extension header before UDP unless asked to (options we do not carry).
    const unsigned next = std::to_integer<unsigned>(packet[6]);
    if (next != kUdp) return bad("IPv6 next header " + std::to_string(next));
    return parse_udp(packet.subspan(kIpv6Header, payload), IpFamily::v6, packet.data() + 8, packet.data() + 24);
  }
  return bad("IP version " + std::to_string(version));
}

Status build_udp_packet(const Endpoint& source, const Endpoint& destination, std::span<const std::byte> payload,
                        std::vector<std::byte>& out) {
  const bool v4 = source.address.family == IpFamily::v4;
  if (source.address.family != destination.address.family)
    return make_error(EAFNOSUPPORT, "a datagram from " + source.to_string() + " to " + destination.to_string());
  if (payload.size() > (v4 ? kMaxUdpPayload4 : kMaxUdpPayload6))
    return make_error(EMSGSIZE, "a datagram of " + std::to_string(payload.size()) + " bytes");
  const std::size_t ip = v4 ? kIpv4Header : kIpv6Header;
  const std::size_t address_bytes = v4 ? 4 : 16;
  const std::size_t udp_length = kUdpHeader + payload.size();
  out.assign(ip + udp_length, std::byte{0});
  std::byte* p = out.data();
  std::byte* src = p + (v4 ? 12 : 8);
  std::byte* dst = src + address_bytes;
  std::memcpy(src, source.address.bytes.data(), address_bytes);
  std::memcpy(dst, destination.address.bytes.data(), address_bytes);
  if (v4) {
    p[0] = std::byte{0x45};
    write16(p + 2, static_cast<std::uint16_t>(ip + udp_length));
    write16(p + 6, 0x4000);  // don't fragment
    p[8] = std::byte{64};    // TTL
    p[9] = std::byte{kUdp};
    write16(p + 10, fold(add_to_sum(0, p, kIpv4Header)));
  } else {
    p[0] = std::byte{0x60};
    write16(p + 4, static_cast<std::uint16_t>(udp_length));
    p[6] = std::byte{kUdp};
    p[7] = std::byte{64};  // hop limit
  }
  std::byte* udp = p + ip;
  write16(udp, source.port);
  write16(udp + 2, destination.port);
  write16(udp + 4, static_cast<std::uint16_t>(udp_length));
  if (!payload.empty()) std::memcpy(udp + kUdpHeader, payload.data(), payload.size());
  // The pseudo-header (addresses, protocol, UDP length), then the datagram.
  std::uint32_t sum = add_to_sum(0, src, 2 * address_bytes);
  sum += kUdp;
  sum += static_cast<std::uint32_t>(udp_length);
  sum = add_to_sum(sum, udp, udp_length);
  std::uint16_t checksum = fold(sum);
  if (checksum == 0) checksum = 0xffff;  // zero means "no checksum" (and is invalid in IPv6)
  write16(udp + 6, checksum);
  return {};
}

}  // namespace dmm::service
