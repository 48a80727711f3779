#pragma once
// dmm::IpAddress <-> lwIP's ip_addr_t (both keep addresses in network byte order).
#include <lwip/ip_addr.h>

#include "dmm/address.hpp"

namespace dmm::lwip_dpdk {

ip_addr_t to_lwip(const IpAddress& address);
IpAddress from_lwip(const ip_addr_t& address);

}  // namespace dmm::lwip_dpdk
