#include "conversions.hpp"

#include <stdexcept>

namespace dmm::py_bindings {

L4Proto proto_from(const std::string& text) {
  if (auto p = parse_l4proto(text)) return *p;
  throw std::invalid_argument("unknown protocol '" + text + "' (expected tcp or udp)");
}

Intent intent_from(const std::string& text) {
  if (auto i = parse_intent(text)) return *i;
  throw std::invalid_argument("unknown intent '" + text + "' (expected default, latency, throughput or bulk)");
}

IpPrefix prefix_from(const std::string& text) {
  auto p = IpPrefix::parse(text);
  if (!p) throw std::invalid_argument("dst '" + text + "': " + p.error().message);
  return *p;
}

IpAddress address_from(const std::string& text) {
  auto a = IpAddress::parse(text);
  if (!a) throw std::invalid_argument("address '" + text + "': " + a.error().message);
  return *a;
}

void throw_if_error(const Status& status) {
  if (!status) throw std::invalid_argument(status.error().message);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace dmm::py_bindings
