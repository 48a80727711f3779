// The packets of dmm-stackd's datagram pump (backends/service/include/dmm/service/udp_packet.hpp): what is built
// parses back to the same datagram, its checksums verify as a receiving kernel checks them, and what is not one
// UDP datagram in one IP packet is refused by name.
#include "dmm/service/udp_packet.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace dmm::service {
namespace {

std::vector<std::byte> bytes_of(const std::string& text) {
  std::vector<std::byte> out;
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

std::uint16_t at16(const std::vector<std::byte>& p, std::size_t i) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[i]) << 8) | std::to_integer<unsigned>(p[i + 1]));
}

// The one's-complement sum of the whole range folded: 0xffff when the checksum in it is right (RFC 1071).
std::uint16_t folded_sum(const std::vector<std::byte>& data) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < data.size(); i += 2) sum += at16(data, i);
  if (data.size() % 2) sum += std::to_integer<std::uint32_t>(data.back()) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// The UDP checksum as a receiver checks it: pseudo-header (addresses, zero, protocol, UDP length) then the datagram.
std::uint16_t udp_check(const std::vector<std::byte>& packet, bool v4) {
  const std::size_t ip = v4 ? 20 : 40, addresses = v4 ? 8 : 32, at = v4 ? 12 : 8;
  std::vector<std::byte> pseudo(packet.begin() + static_cast<long>(at), packet.begin() + static_cast<long>(at + addresses));
  const std::size_t udp_length = packet.size() - ip;
  for (std::byte b : {std::byte{0}, std::byte{17}, static_cast<std::byte>(udp_length >> 8),
                      static_cast<std::byte>(udp_length & 0xff)})
    pseudo.push_back(b);
  pseudo.insert(pseudo.end(), packet.begin() + static_cast<long>(ip), packet.end());
  return folded_sum(pseudo);
}

TEST(UdpPacket, AnIpv4DatagramRoundTripsWithCorrectChecksums) {
  std::vector<std::byte> packet;
  const Endpoint from = *Endpoint::parse("10.232.3.1:7001"), to = *Endpoint::parse("10.232.3.2:40000");
  const auto payload = bytes_of("hello, odd length");
  ASSERT_TRUE(build_udp_packet(from, to, payload, packet).ok());
  ASSERT_EQ(packet.size(), 20u + 8u + payload.size());
  EXPECT_EQ(folded_sum({packet.begin(), packet.begin() + 20}), 0xffff);  // the IPv4 header's checksum
  EXPECT_EQ(udp_check(packet, true), 0xffff);
  auto parsed = parse_udp_packet(packet);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->source, from);
  EXPECT_EQ(parsed->destination, to);
  EXPECT_EQ(std::vector<std::byte>(parsed->payload.begin(), parsed->payload.end()), payload);
}

TEST(UdpPacket, AnIpv6DatagramRoundTripsAndAnEmptyOneIsStillOne) {
  std::vector<std::byte> packet;
  const Endpoint from = *Endpoint::parse("[fd00:232:3::1]:53"), to = *Endpoint::parse("[fd00:232:3::2]:5300");
  for (const std::string& text : {std::string("answer"), std::string()}) {
    ASSERT_TRUE(build_udp_packet(from, to, bytes_of(text), packet).ok());
    EXPECT_EQ(udp_check(packet, false), 0xffff);
    EXPECT_NE(at16(packet, 40 + 6), 0);  // never zero in IPv6
    auto parsed = parse_udp_packet(packet);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->source, from);
    EXPECT_EQ(parsed->destination, to);
    EXPECT_EQ(parsed->payload.size(), text.size());
  }
}

TEST(UdpPacket, TheLargestDatagramFitsAndOneByteMoreDoesNot) {
  std::vector<std::byte> packet;
  const Endpoint a = *Endpoint::parse("10.0.0.1:1"), b = *Endpoint::parse("10.0.0.2:2");
  EXPECT_TRUE(build_udp_packet(a, b, std::vector<std::byte>(kMaxUdpPayload4), packet).ok());
  EXPECT_EQ(packet.size(), 65535u);
  EXPECT_EQ(build_udp_packet(a, b, std::vector<std::byte>(kMaxUdpPayload4 + 1), packet).error().code, EMSGSIZE);
  EXPECT_EQ(build_udp_packet(a, *Endpoint::parse("[::1]:2"), {}, packet).error().code, EAFNOSUPPORT);
}

TEST(UdpPacket, WhatIsNotOneUdpDatagramIsRefusedByName) {
  std::vector<std::byte> good;
  ASSERT_TRUE(build_udp_packet(*Endpoint::parse("10.0.0.1:1"), *Endpoint::parse("10.0.0.2:2"), bytes_of("x"), good).ok());
  auto problem = [](std::vector<std::byte> p) {
    auto parsed = parse_udp_packet(p);
    return parsed.ok() ? std::string("ok") : parsed.error().message;
  };
  EXPECT_NE(problem({}).find("empty"), std::string::npos);
  auto tcp = good;
  tcp[9] = std::byte{6};
  EXPECT_NE(problem(tcp).find("IP protocol 6"), std::string::npos);
  auto fragment = good;
  fragment[6] = std::byte{0x20};  // more fragments
  EXPECT_NE(problem(fragment).find("fragment"), std::string::npos);
  auto cut = good;
  cut.resize(25);
  EXPECT_NE(problem(cut).find("IPv4 lengths"), std::string::npos);
  auto long_udp = good;
  long_udp[20 + 5] = std::byte{200};  // UDP length beyond the packet
  EXPECT_NE(problem(long_udp).find("UDP length 200"), std::string::npos);
  auto v5 = good;
  v5[0] = std::byte{0x55};
  EXPECT_NE(problem(v5).find("IP version 5"), std::string::npos);
  std::vector<std::byte> v6;
  ASSERT_TRUE(build_udp_packet(*Endpoint::parse("[::1]:1"), *Endpoint::parse("[::2]:2"), {}, v6).ok());
  v6[6] = std::byte{58};  // ICMPv6 (a router solicitation)
  EXPECT_NE(problem(v6).find("IPv6 next header 58"), std::string::npos);
}

}  // namespace
}  // namespace dmm::service
