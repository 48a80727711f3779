// Address values. inet_pton/inet_ntop are pure conversions (no sockets, no name resolution), so using them
// keeps the core free of I/O while getting every IPv6 spelling (`::`, embedded IPv4) right.
#include "dmm/address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace dmm {
namespace {

Error invalid(std::string_view what, std::string_view text, std::string_view why) {
  std::string msg = "invalid ";
  msg.append(what).append(" '").append(text).append("': ").append(why);
  return make_error(EINVAL, std::move(msg));
}

}  // namespace

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress a;
  a.family = IpFamily::v4;
  a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest valid text is INET6_ADDRSTRLEN - 1 characters.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN)
    return invalid("IP address", text, "expected an IPv4 (1.2.3.4) or IPv6 (2001:db8::1) address");
  char buf[INET6_ADDRSTRLEN] = {};
  text.copy(buf, text.size());
  IpAddress a;
  if (text.find(':') != std::string_view::npos) {
    a.family = IpFamily::v6;
    if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) return a;
    return invalid("IP address", text, "not a valid IPv6 address");
  }
  a.family = IpFamily::v4;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) return a;
  return invalid("IP address", text, "not a valid IPv4 address (expected four numbers 0-255, e.g. 10.0.0.1)");
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == IpFamily::v4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof buf) == nullptr) return "?";  // cannot happen: buffer is large enough
  return buf;
}

IpAddress mask(const IpAddress& a, std::uint8_t length) {
  IpAddress m = a;
  const int width = a.bit_width();
  if (length >= width) return m;
  const std::size_t full = length / 8;  // bytes kept whole
  const unsigned rest = length % 8;     // bits kept in the next byte
  std::size_t i = full;
  if (rest != 0) {
    m.bytes[i] = static_cast<std::uint8_t>(m.bytes[i] & (0xFFu << (8 - rest)));
    ++i;
  }
  for (; i < m.bytes.size(); ++i) m.bytes[i] = 0;
  return m;
}

IpPrefix IpPrefix::of(const IpAddress& a, std::uint8_t length) {
  const auto width = static_cast<std::uint8_t>(a.bit_width());
  const std::uint8_t clamped = length > width ? width : length;
  return IpPrefix{mask(a, clamped), clamped};
}

Result<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) {
    if (slash == std::string_view::npos) return address.error();
    return invalid("prefix", text, "expected ADDRESS/LENGTH, e.g. 10.0.0.0/8 or 2001:db8::/32");
  }
  const int width = address->bit_width();
  if (slash == std::string_view::npos) return IpPrefix::host(*address);
  const std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  const auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc{} || ptr != len_text.data() + len_text.size())
    return invalid("prefix", text, "the length after '/' must be a number");
  if (len > static_cast<unsigned>(width))
    return invalid("prefix", text,
                   "length " + std::string(len_text) + " out of range 0.." + std::to_string(width));
  // Host bits are dropped rather than rejected: `10.77.0.2/24` (an interface address) names 10.77.0.0/24.
  return IpPrefix::of(*address, static_cast<std::uint8_t>(len));
}

bool IpPrefix::contains(const IpAddress& a) const {
  return a.family == address.family && mask(a, length) == address;
}

std::string IpPrefix::to_string() const { return address.to_string() + "/" + std::to_string(length); }

Result<Endpoint> Endpoint::parse(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    std::string msg = "'";  // appended, not `"'" + s`: GCC 12's false -Wrestrict (see to_string below)
    msg.append(text).append("' is not ADDRESS:PORT (e.g. 10.0.0.1:7601, [fd00::1]:7601): ").append(why);
    return make_error(EINVAL, std::move(msg));
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos) return bad("write an IPv6 address in brackets");
  auto address = IpAddress::parse(host);
  if (!address) return bad(address.error().message);
  if (bracketed != (address->family == IpFamily::v6)) return bad("brackets are for IPv6 addresses only");
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
    return bad("the port must be a number from 0 to 65535");
  return Endpoint{*address, static_cast<std::uint16_t>(port)};
}

std::string Endpoint::to_string() const {
  // Brackets keep the port apart from an IPv6 address's own colons (RFC 3986 spelling). Appending (rather
  // than `"[" + s`) also sidesteps GCC 12's false -Wrestrict warning on operator+(const char*, string&&).
  const bool v6 = address.family == IpFamily::v6;
  std::string out;
  if (v6) out += '[';
  out += address.to_string();
  if (v6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

}  // namespace dmm
