#include "time_wait_reuse.hpp"

#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>

#include <cstring>

namespace dmm::lwip_dpdk {
namespace {

constexpr std::size_t kEthernet = 14;
constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kSyn = 0x02;
constexpr std::uint8_t kAck = 0x10;

std::uint16_t read16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t read32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// The addresses as lwIP keeps them (network byte order in memory).
bool same_address(const ip_addr_t& lwip, const std::uint8_t* bytes, bool v6) {
  if (v6) return IP_IS_V6_VAL(lwip) && std::memcmp(ip_2_ip6(&lwip)->addr, bytes, 16) == 0;
  return !IP_IS_V6_VAL(lwip) && std::memcmp(&ip_2_ip4(&lwip)->addr, bytes, 4) == 0;
}

}  // namespace

bool let_syn_reuse_time_wait(const std::uint8_t* frame, std::size_t length) {
  if (!tcp_tw_pcbs || length < kEthernet + 20) return false;
  const std::uint16_t ethertype = read16(frame + 12);
  const std::uint8_t* ip = frame + kEthernet;
  const std::size_t ip_length = length - kEthernet;
  const std::uint8_t* source = nullptr;
  const std::uint8_t* destination = nullptr;
  const std::uint8_t* tcp = nullptr;
  bool v6 = false;
  if (ethertype == 0x0800) {
    const std::size_t header = (ip[0] & 0x0f) * 4u;
    if ((ip[0] >> 4) != 4 || header < 20 || ip[9] != kTcp || (read16(ip + 6) & 0x1fff) != 0) return false;
    source = ip + 12;
    destination = ip + 16;
    tcp = ip + header;
  } else if (ethertype == 0x86dd) {
    if (ip_length < 40 || (ip[0] >> 4) != 6 || ip[6] != kTcp) return false;  // no extension headers before TCP
    v6 = true;
    source = ip + 8;
    destination = ip + 24;
    tcp = ip + 40;
  } else {
    return false;
  }
  if (tcp + 20 > frame + length) return false;
  if ((tcp[13] & (kSyn | kAck)) != kSyn) return false;
  const std::uint16_t source_port = read16(tcp);
  const std::uint16_t destination_port = read16(tcp + 2);
  const std::uint32_t sequence = read32(tcp + 4);
  for (tcp_pcb* pcb = tcp_tw_pcbs; pcb; pcb = pcb->next) {
    if (pcb->local_port != destination_port || pcb->remote_port != source_port) continue;
    if (!same_address(pcb->local_ip, destination, v6) || !same_address(pcb->remote_ip, source, v6)) continue;
    if (!TCP_SEQ_GT(sequence, pcb->rcv_nxt)) return false;  // an old duplicate: lwIP answers it as before
    tcp_abort(pcb);  // a TIME-WAIT pcb is just removed and freed (no RST)
    return true;
  }
  return false;
}

}  // namespace dmm::lwip_dpdk
