#pragma once
// One DPDK ethdev port made from a virtual device (`net_af_xdp0,iface=veth0`, `net_pcap0,iface=...`,
// `net_null0`): one RX and one TX queue, its own mbuf pool, started. Frames go out in bursts: begin_frame()
// collects them and flush() hands the batch to the driver. Single-threaded: the owning stack's executor thread.
// (`net_af_packet` vdevs are served by PacketRingPort instead: see frame_port.hpp.)
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dmm/result.hpp"
#include "frame_port.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace dmm::lwip_dpdk {

class DpdkPort final : public FramePort {
public:
  // Probes `vdev` (DPDK --vdev syntax: NAME[,KEY=VALUE...]) as a new port and starts it. `netns_path` (may be
  // empty): the network namespace file the device is probed from, for drivers that open a kernel interface
  // (af_packet, pcap). Errors name the vdev. EAL must be initialised (DpdkEnvironment).
  static Result<std::unique_ptr<DpdkPort>> open(const std::string& vdev, const std::string& netns_path);
  ~DpdkPort() override;  // stops, closes and removes the device
  DpdkPort(const DpdkPort&) = delete;
  DpdkPort& operator=(const DpdkPort&) = delete;

  const std::string& name() const override { return name_; }
  const std::array<std::uint8_t, 6>& mac() const override { return mac_; }
  std::uint16_t mtu() const override { return mtu_; }

  // Frames come as the driver gives them: DPDK's virtual devices carry no offload marks to finish.
  std::size_t receive(std::size_t max, const FrameSink& sink) override;
  std::uint8_t* begin_frame(std::size_t length) override;
  // What the driver does not take now is retried on the next flush, and dropped when the batch is full again.
  std::size_t flush() override;
  bool has_queued() const override { return !queued_.empty(); }

  const PortCounters& counters() const override { return counters_; }

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
