#pragma once
// IPv4/IPv6 addresses, prefixes and endpoints as plain values (no sockets, no OS calls).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "dmm/result.hpp"

namespace dmm {

enum class IpFamily : std::uint8_t { v4, v6 };

struct IpAddress {
  IpFamily family = IpFamily::v4;
  // v4 uses bytes[0..3]; the rest stays zero so that equality and hashing need no family switch.
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(std::uint32_t host_order);
  static Result<IpAddress> parse(std::string_view text);
  std::string to_string() const;
  int bit_width() const { return family == IpFamily::v4 ? 32 : 128; }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpPrefix {
  IpAddress address;  // already masked to `length`
  std::uint8_t length = 0;

  // `10.0.0.0/8`, `2001:db8::/32`, or a bare address meaning a host prefix.
  static Result<IpPrefix> parse(std::string_view text);
  static IpPrefix host(const IpAddress& a) { return IpPrefix::of(a, static_cast<std::uint8_t>(a.bit_width())); }
  static IpPrefix of(const IpAddress& a, std::uint8_t length);  // masks the address
  bool contains(const IpAddress& a) const;
  std::string to_string() const;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

// Zeroes every bit past `length`.
IpAddress mask(const IpAddress& a, std::uint8_t length);

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;
  // `10.0.0.1:7601`, `[fd00::1]:7601` (the to_string() spelling); port 0 is accepted (let the kernel pick).
  static Result<Endpoint> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

}  // namespace dmm
