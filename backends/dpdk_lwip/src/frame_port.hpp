#pragma once
// Where an lwip-dpdk instance's frames come from and go to: a DPDK ethdev port (DpdkPort: net_null, net_pcap,
// net_af_xdp, net_tap, ...) or DMM's own AF_PACKET ring port (PacketRingPort, for `net_af_packet` vdevs: it keeps
// the kernel's checksum-offload and GSO marks that DPDK 22.11's af_packet driver drops). Single-threaded: the
// owning stack's executor thread.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "dmm/result.hpp"

namespace dmm::lwip_dpdk {

struct PortCounters {
  std::uint64_t rx_frames = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_dropped = 0;  // the driver's ring stayed full: dropped as a NIC would (TCP resends)
  std::uint64_t no_mbuf = 0;     // no buffer when a frame was to be sent
  // Received frames not handed on: cut short by the ring (no room to copy them whole), or malformed offload
  // metadata from the kernel (a checksum or segmentation request outside the frame).
  std::uint64_t rx_dropped = 0;
  std::uint64_t rx_checksums_completed = 0;  // frames from the local kernel whose checksum was left to offload
  std::uint64_t rx_gso_frames = 0;           // GSO frames from the local kernel (one TCP segment, or UDP split)
  std::uint64_t tx_super_frames = 0;         // runs of TCP segments sent as one GSO super-frame (tx_frames counts segments)
};

class FramePort {
public:
  static constexpr std::uint16_t kBurst = 32;
  // Called for each received frame: complete, with every checksum filled in (data may be modified in place).
  using FrameSink = std::function<void(std::span<std::uint8_t> frame)>;

  virtual ~FramePort() = default;
  virtual const std::string& name() const = 0;
  virtual const std::array<std::uint8_t, 6>& mac() const = 0;
  virtual std::uint16_t mtu() const = 0;

  // Hands up to `max` received frames to `sink`; returns how many frames the port took off its ring.
  virtual std::size_t receive(std::size_t max, const FrameSink& sink) = 0;
  // A frame of `length` bytes to fill (nullptr if no buffer is free or it is too long), then queued for sending.
  virtual std::uint8_t* begin_frame(std::size_t length) = 0;
  // Sends the queued frames. Returns how many are still queued (the driver took fewer).
  virtual std::size_t flush() = 0;
  virtual bool has_queued() const = 0;

  virtual const PortCounters& counters() const = 0;
  // A descriptor that is readable when frames wait (-1: none; DPDK queues raise no event).
  virtual int wake_fd() const { return -1; }
};

// Opens the port a vdev string names, in the namespace file `netns_path` ("" = here): `net_af_packet*` with
// `iface=NAME` is a PacketRingPort, anything else a DPDK port (EAL is started on first use). Errors name the vdev.
Result<std::unique_ptr<FramePort>> open_frame_port(const std::string& vdev, const std::string& netns_path);

}  // namespace dmm::lwip_dpdk
