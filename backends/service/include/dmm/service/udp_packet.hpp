#pragma once
// IPv4/IPv6 packets that carry one UDP datagram, as a tun device (IFF_TUN, IFF_NO_PI) reads and writes them:
// dmm-stackd's datagram pump (daemon/datagram_pump.hpp) reads what programs send from their UDP sockets and writes
// what arrives for them. Pure functions over bytes (the fuzz target's too).
#include <cstddef>
#include <span>
#include <vector>

#include "dmm/address.hpp"
#include "dmm/result.hpp"

namespace dmm::service {

struct UdpPacket {
  Endpoint source;
  Endpoint destination;
  std::span<const std::byte> payload;  // inside the packet parsed
};

// The largest payload of one UDP datagram: an IPv4 one (65535 minus 20 + 8 header bytes); IPv6's is 20 more.
inline constexpr std::size_t kMaxUdpPayload4 = 65507;
inline constexpr std::size_t kMaxUdpPayload6 = 65527;

// One packet's datagram; an error naming what it is otherwise (not IP, not UDP, a fragment, lengths that do not
// add up). Checksums are not checked: the packets come from the local kernel, never from a wire.
Result<UdpPacket> parse_udp_packet(std::span<const std::byte> packet);

// The packet of one datagram from `source` to `destination` (the same family) into `out`, with its IP header's and
// UDP checksums (the receiving kernel checks them). EMSGSIZE beyond the family's largest payload.
Status build_udp_packet(const Endpoint& source, const Endpoint& destination, std::span<const std::byte> payload,
                        std::vector<std::byte>& out);

}  // namespace dmm::service
