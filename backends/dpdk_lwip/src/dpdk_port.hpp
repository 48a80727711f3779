#pragma once
// One DPDK ethdev port made from a virtual device (`net_af_packet0,iface=veth0`, `net_pcap0,iface=...`,
// `net_null0`): one RX and one TX queue, its own mbuf pool, started. Frames go out in bursts: queue() collects
// them and flush() hands the batch to the driver. Single-threaded: the owning stack's executor thread.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dmm/result.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace dmm::lwip_dpdk {

struct PortCounters {
  std::uint64_t rx_frames = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_dropped = 0;  // the driver's ring stayed full: dropped as a NIC would (TCP resends)
  std::uint64_t no_mbuf = 0;     // pool exhausted when a frame was to be sent
};

class DpdkPort {
public:
  static constexpr std::uint16_t kBurst = 32;

  // Probes `vdev` (DPDK --vdev syntax: NAME[,KEY=VALUE...]) as a new port and starts it. `netns_path` (may be
  // empty): the network namespace file the device is probed from, for drivers that open a kernel interface
  // (af_packet, pcap). Errors name the vdev. EAL must be initialised (DpdkEnvironment).
  static Result<std::unique_ptr<DpdkPort>> open(const std::string& vdev, const std::string& netns_path);
  ~DpdkPort();  // stops, closes and removes the device
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;

  const std::string& name() const { return name_; }
  const std::array<std::uint8_t, 6>& mac() const { return mac_; }
  std::uint16_t mtu() const { return mtu_; }
  bool link_up() const;

  // Up to `max` received frames (the caller frees them with free_frame).
  std::uint16_t receive(rte_mbuf** frames, std::uint16_t max);
  static void free_frame(rte_mbuf* frame);
  static const std::uint8_t* frame_data(const rte_mbuf* frame);
  static std::size_t frame_length(const rte_mbuf* frame);

  // A frame of `length` bytes to fill (nullptr if the pool is empty or it is too long), then queued for sending.
  std::uint8_t* begin_frame(std::size_t length);
  // Sends the queued frames; what the driver does not take now is retried on the next flush, and dropped when
  // the batch is full again. Returns how many frames left.
  std::size_t flush();
  bool has_queued() const { return !queued_.empty(); }

  const PortCounters& counters() const { return counters_; }

private:
  DpdkPort(std::string name, std::uint16_t port, rte_mempool* pool);
  static Result<std::unique_ptr<DpdkPort>> open_here(const std::string& vdev);

  std::string name_;
  std::string netns_path_;  // where the device was probed (its stop and close run there too)
  std::uint16_t port_;
  rte_mempool* pool_;
  std::array<std::uint8_t, 6> mac_{};
  std::uint16_t mtu_ = 1500;
  std::vector<rte_mbuf*> queued_;
  PortCounters counters_;
};

}  // namespace dmm::lwip_dpdk
