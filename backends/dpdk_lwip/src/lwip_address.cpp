#include "lwip_address.hpp"

#include <cstring>

namespace dmm::lwip_dpdk {

ip_addr_t to_lwip(const IpAddress& address) {
  ip_addr_t out;
  if (address.family == IpFamily::v4) {
    u32_t v4 = 0;
    std::memcpy(&v4, address.bytes.data(), 4);
    ip_addr_set_ip4_u32_val(out, v4);
  } else {
    u32_t words[4];
    std::memcpy(words, address.bytes.data(), 16);
    IP_ADDR6(&out, words[0], words[1], words[2], words[3]);
  }
  return out;
}

IpAddress from_lwip(const ip_addr_t& address) {
  IpAddress out;
  if (IP_IS_V6_VAL(address)) {
    out.family = IpFamily::v6;
    std::memcpy(out.bytes.data(), ip_2_ip6(&address)->addr, 16);
  } else {
    const u32_t v4 = ip4_addr_get_u32(ip_2_ip4(&address));
    std::memcpy(out.bytes.data(), &v4, 4);
  }
  return out;
}

}  // namespace dmm::lwip_dpdk
