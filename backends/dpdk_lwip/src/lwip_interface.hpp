#pragma once
// One lwip-dpdk instance's network interface: an lwIP netif (Ethernet, ARP, IPv4, IPv6) whose frames travel
// through a FramePort. poll() moves one RX burst into lwIP and flushes the frames lwIP sent meanwhile as one TX
// burst. Received frames are copied into PBUF_RAM buffers of their exact size (a TCP super-frame is up to 64 KiB).
#include <lwip/netif.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "dmm/address.hpp"
#include "dmm/executor.hpp"
#include "frame_port.hpp"

namespace dmm::lwip_dpdk {

struct InterfaceCounters {
  std::uint64_t rx_dropped = 0;  // no memory for a pbuf, or lwIP refused the frame
};

class LwipInterface {
public:
  // lwIP must be attached (LwipCore). `address`/`prefix_length` and `gateway` are IPv4.
  static Result<std::unique_ptr<LwipInterface>> create(std::unique_ptr<FramePort> port, const IpAddress& address,
                                                       std::uint8_t prefix_length,
                                                       const std::optional<IpAddress>& gateway, Executor& executor);
  ~LwipInterface();  // removes the netif (connections on it must be closed first)
  LwipInterface(const LwipInterface&) = delete;
  LwipInterface& operator=(const LwipInterface&) = delete;

  netif* raw() { return &netif_; }
  const FramePort& port() const { return *port_; }
  const IpAddress& address() const { return address_; }
  // An IPv6 address next to the IPv4 one (static: no duplicate address detection), with a link-local address
  // for neighbour discovery. EIO if lwIP has no room for it.
  Status add_ipv6(const IpAddress& address, std::uint8_t prefix_length);
  // IPv4: `to` is on this interface's subnet, or there is a gateway. IPv6: it is on the IPv6 prefix.
  bool can_reach(const IpAddress& to) const;
  bool has_ipv6() const { return address6_.has_value(); }
  const std::optional<IpAddress>& address6() const { return address6_; }
  // The next hop towards `to` (itself on the subnet, else the gateway) has answered ARP (IPv6: neighbour
  // solicitation): lwIP holds its link-layer address.
  // A host that never answers leaves a connection retransmitting its SYN into nothing; the kernel gives up with
  // EHOSTUNREACH after about 3 s of unanswered neighbour solicitations, and so do connections here.
  bool neighbour_resolved(const IpAddress& to);
  std::string next_hop(const IpAddress& to) const;

  // One RX burst into lwIP, then the TX burst. True if any frame moved.
  bool poll();
  // Sends what lwIP queued now (a connection after writing: latency first). Without it, every frame still leaves
  // once the current executor callback is done (link_output requests a flush), together with whatever else that
  // callback queues (a stream of datagrams, window updates of many reads): bursts first, never later than the
  // loop's next turn.
  void flush() { port_->flush(); }

  const InterfaceCounters& counters() const { return counters_; }

  // TCP data segments (retransmissions included) this interface sent for one connection: what Linux reports as
  // tcpi_data_segs_out, and what nRD's loss estimate divides the retransmissions by. lwIP keeps no such count, so
  // the interface counts the frames it sends. A connection registers its flow while it lives; frames of flows
  // nobody registered (a connection closed and gone, still sending its FIN) are not counted.
  void track_tcp_flow(std::uint16_t local_port, const IpAddress& remote, std::uint16_t remote_port);
  void forget_tcp_flow(std::uint16_t local_port, const IpAddress& remote, std::uint16_t remote_port);
  std::uint64_t tcp_data_segments(std::uint16_t local_port, const IpAddress& remote, std::uint16_t remote_port) const;

private:
  LwipInterface(std::unique_ptr<FramePort> port, const IpAddress& address, std::uint8_t prefix_length,
                const std::optional<IpAddress>& gateway, Executor& executor);
  static err_t init(netif* n);
  static err_t link_output(netif* n, pbuf* p);
  void request_flush();
  void count_tcp_data_segment(const std::uint8_t* frame, std::size_t length);

  std::unique_ptr<FramePort> port_;
  IpAddress address_;
  std::uint8_t prefix_length_;
  std::optional<IpAddress> gateway_;
  std::optional<IpAddress> address6_;
  std::uint8_t prefix_length6_ = 64;
  Executor& executor_;
  netif netif_{};
  bool added_ = false;
  bool flush_requested_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for a requested flush that outlives us
  InterfaceCounters counters_;
  std::unordered_map<std::uint64_t, std::uint64_t> tcp_data_segments_;  // by flow_key
};

}  // namespace dmm::lwip_dpdk
