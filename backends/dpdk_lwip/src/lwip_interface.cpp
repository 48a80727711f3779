#include "lwip_interface.hpp"

#include <lwip/etharp.h>
#include <lwip/pbuf.h>
#include <lwip/ip6_addr.h>
#include <lwip/netif.h>
#include <netif/ethernet.h>
#include <lwip/ethip6.h>
#include <lwip/priv/nd6_priv.h>
#include <lwip/priv/tcp_priv.h>

#include <cstring>

#include "lwip_address.hpp"
#include "time_wait_reuse.hpp"

namespace dmm::lwip_dpdk {

Result<std::unique_ptr<LwipInterface>> LwipInterface::create(std::unique_ptr<FramePort> port, const IpAddress& address,
                                                             std::uint8_t prefix_length,
                                                             const std::optional<IpAddress>& gateway,
                                                             Executor& executor) {
  if (address.family != IpFamily::v4 || (gateway && gateway->family != IpFamily::v4))
    return make_error(EAFNOSUPPORT, "lwip-dpdk instances take IPv4 addresses only (got " + address.to_string() + ")");
  std::unique_ptr<LwipInterface> self(new LwipInterface(std::move(port), address, prefix_length, gateway, executor));
  const ip_addr_t ip = to_lwip(address);
  const ip_addr_t netmask = to_lwip(mask(IpAddress::v4(0xffffffffu), prefix_length));
  const ip_addr_t gw = gateway ? to_lwip(*gateway) : to_lwip(IpAddress::v4(0));
  if (!netif_add(&self->netif_, ip_2_ip4(&ip), ip_2_ip4(&netmask), ip_2_ip4(&gw), self.get(), &LwipInterface::init,
                 ethernet_input))
    return make_error(EIO, "lwIP refused a new interface for " + self->port_->name());
  self->added_ = true;
  netif_set_up(&self->netif_);
  netif_set_link_up(&self->netif_);
  return self;
}

LwipInterface::LwipInterface(std::unique_ptr<FramePort> port, const IpAddress& address, std::uint8_t prefix_length,
                             const std::optional<IpAddress>& gateway, Executor& executor)
    : port_(std::move(port)), address_(address), prefix_length_(prefix_length), gateway_(gateway),
      executor_(executor) {}

LwipInterface::~LwipInterface() {
  *alive_ = false;
  if (added_) netif_remove(&netif_);
}

void LwipInterface::request_flush() {
  if (flush_requested_) return;
  flush_requested_ = true;
  executor_.schedule(Duration::zero(), [this, alive = alive_] {
    if (!*alive) return;
    flush_requested_ = false;
    port_->flush();
  });
}

bool LwipInterface::can_reach(const IpAddress& to) const {
  if (to.family == IpFamily::v6) return address6_ && IpPrefix::of(*address6_, prefix_length6_).contains(to);
  return gateway_ || IpPrefix::of(address_, prefix_length_).contains(to);
}

Status LwipInterface::add_ipv6(const IpAddress& address, std::uint8_t prefix_length) {
  // lwIP compares IPv6 prefixes over 64 bits (nd6_is_prefix_in_netif): a longer prefix is narrowed here by
  // can_reach, a shorter one is not reachable beyond its /64 without a router.
  netif_create_ip6_linklocal_address(&netif_, 1);
  netif_ip6_addr_set_state(&netif_, 0, IP6_ADDR_PREFERRED);  // static: no duplicate address detection
  const ip_addr_t ip6 = to_lwip(address);
  s8_t index = -1;
  if (netif_add_ip6_address(&netif_, ip_2_ip6(&ip6), &index) != ERR_OK || index < 0)
    return make_error(EIO, "lwIP has no room for IPv6 address " + address.to_string() + " on " + port_->name());
  netif_ip6_addr_set_state(&netif_, index, IP6_ADDR_PREFERRED);
  address6_ = address;
  prefix_length6_ = prefix_length;
  return {};
}

std::string LwipInterface::next_hop(const IpAddress& to) const {
  if (to.family == IpFamily::v6) return to.to_string();  // on-link only
  if (IpPrefix::of(address_, prefix_length_).contains(to) || !gateway_) return to.to_string();
  return gateway_->to_string();
}

bool LwipInterface::neighbour_resolved(const IpAddress& to) {
  if (to.family == IpFamily::v6) {
    // On-link only (no IPv6 gateway): the neighbour is `to`. lwIP keeps no lookup for it in its API, but its
    // neighbour cache is exported (nd6_priv.h); an entry past INCOMPLETE has answered a solicitation.
    for (int i = 0; i < LWIP_ND6_NUM_NEIGHBORS; ++i) {
      const nd6_neighbor_cache_entry& entry = neighbor_cache[i];
      if (entry.netif == &netif_ && entry.state >= ND6_REACHABLE &&
          std::memcmp(entry.next_hop_address.addr, to.bytes.data(), 16) == 0)
        return true;
    }
    return false;
  }
  const IpAddress& hop = IpPrefix::of(address_, prefix_length_).contains(to) || !gateway_ ? to : *gateway_;
  ip4_addr_t address;
  std::memcpy(&address.addr, hop.bytes.data(), 4);
  eth_addr* mac = nullptr;
  const ip4_addr_t* ip = nullptr;
  return etharp_find_addr(&netif_, &address, &mac, &ip) >= 0;
}

err_t LwipInterface::init(netif* n) {
  auto* self = static_cast<LwipInterface*>(n->state);
  n->name[0] = 'd';
  n->name[1] = 'p';
  n->hwaddr_len = ETH_HWADDR_LEN;
  std::memcpy(n->hwaddr, self->port_->mac().data(), ETH_HWADDR_LEN);
  n->mtu = self->port_->mtu();
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
  n->output = etharp_output;
  n->output_ip6 = ethip6_output;
  n->linkoutput = &LwipInterface::link_output;
  return ERR_OK;
}

err_t LwipInterface::link_output(netif* n, pbuf* p) {
  auto* self = static_cast<LwipInterface*>(n->state);
  std::uint8_t* frame = self->port_->begin_frame(p->tot_len);
  if (!frame) return ERR_OK;  // dropped (counted by the port), as a full NIC queue would: TCP resends
  pbuf_copy_partial(p, frame, p->tot_len, 0);
  if (!self->tcp_data_segments_.empty()) self->count_tcp_data_segment(frame, p->tot_len);
  // Whatever sent it (a poll, a timer: delayed ACKs, retransmissions; an application's call), it leaves before the
  // loop sleeps: a loop woken only by its port's fd would otherwise keep a timer's frames until the next wake-up.
  self->request_flush();
  return ERR_OK;
}

namespace {
// A flow as the frames show it: our port, the peer's IPv4 address (network order bytes) and port.
std::uint64_t flow_key(std::uint16_t local_port, std::uint32_t remote_be, std::uint16_t remote_port) {
  return (std::uint64_t(local_port) << 48) | (std::uint64_t(remote_port) << 32) | remote_be;
}
std::uint32_t ipv4_bytes(const IpAddress& a) {
  std::uint32_t v;
  std::memcpy(&v, a.bytes.data(), 4);
  return v;
}
std::uint16_t read16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
}  // namespace

void LwipInterface::count_tcp_data_segment(const std::uint8_t* frame, std::size_t length) {
  constexpr std::size_t kEthernet = 14;
  if (length < kEthernet + 20 || read16(frame + 12) != 0x0800) return;  // IPv4 only
  const std::uint8_t* ip = frame + kEthernet;
  const std::size_t ip_header = std::size_t(ip[0] & 0x0f) * 4;
  if (ip[9] != 6 || ip_header < 20 || length < kEthernet + ip_header + 20) return;  // TCP only
  const std::uint8_t* tcp = ip + ip_header;
  const std::size_t tcp_header = std::size_t(tcp[12] >> 4) * 4;
  const std::size_t ip_total = read16(ip + 2);
  if (ip_total <= ip_header + tcp_header) return;  // no payload: a pure ACK, SYN or FIN
  std::uint32_t remote_be;
  std::memcpy(&remote_be, ip + 16, 4);  // destination address
  auto it = tcp_data_segments_.find(flow_key(read16(tcp), remote_be, read16(tcp + 2)));
  if (it != tcp_data_segments_.end()) ++it->second;
}

void LwipInterface::track_tcp_flow(std::uint16_t local_port, const IpAddress& remote, std::uint16_t remote_port) {
  tcp_data_segments_.try_emplace(flow_key(local_port, ipv4_bytes(remote), remote_port), 0);
}

void LwipInterface::forget_tcp_flow(std::uint16_t local_port, const IpAddress& remote, std::uint16_t remote_port) {
  tcp_data_segments_.erase(flow_key(local_port, ipv4_bytes(remote), remote_port));
}

std::uint64_t LwipInterface::tcp_data_segments(std::uint16_t local_port, const IpAddress& remote,
                                               std::uint16_t remote_port) const {
  auto it = tcp_data_segments_.find(flow_key(local_port, ipv4_bytes(remote), remote_port));
  return it == tcp_data_segments_.end() ? 0 : it->second;
}

bool LwipInterface::poll() {
  const std::uint64_t super_frames_before = port_->counters().rx_gso_frames;
  const std::size_t n = port_->receive(FramePort::kBurst, [this](std::span<std::uint8_t> frame) {
    (void)let_syn_reuse_time_wait(frame.data(), frame.size());
    // lwIP counts a buffer's bytes in 16 bits: a larger frame (a 65,535-byte MTU's, with its Ethernet header)
    // cannot be taken whole.
    pbuf* p = frame.size() <= 0xffff ? pbuf_alloc(PBUF_RAW, static_cast<u16_t>(frame.size()), PBUF_RAM) : nullptr;
    if (!p) {
      ++counters_.rx_dropped;
      return;
    }
    pbuf_take(p, frame.data(), static_cast<u16_t>(frame.size()));
    if (netif_.input(p, &netif_) != ERR_OK) {
      pbuf_free(p);
      ++counters_.rx_dropped;
    }
  });
  // A super-frame is many segments' worth that lwIP counts as one, and lwIP acknowledges every second segment:
  // alone, it would only delay its ACK (up to a tick), where Linux acknowledges at once when more than one full
  // segment is unacknowledged. Send the delayed ACKs now.
  if (port_->counters().rx_gso_frames != super_frames_before) tcp_fasttmr();
  const bool had_output = port_->has_queued();
  port_->flush();
  return n > 0 || had_output;
}

}  // namespace dmm::lwip_dpdk
