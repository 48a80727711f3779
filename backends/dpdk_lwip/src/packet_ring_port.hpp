#pragma once
// A FramePort on a kernel interface through an AF_PACKET socket with a memory-mapped RX ring (TPACKET_V2) and
// PACKET_VNET_HDR: each received frame comes with the kernel's offload marks, so frames a local veth peer sent
// with its default offloads (checksums left to fill in, TSO super-frames) are finished here (offload_frames.hpp)
// instead of being dropped by lwIP as corrupt. DPDK 22.11's net_af_packet reads the same rings but throws those
// marks away, and its PACKET_FANOUT_FLAG_DEFRAG made the kernel reassemble IPv4 fragments into frames its 2 KiB
// buffers cut short; this port does neither (lwIP reassembles). FD.io VPP's host-interface driver reads
// af_packet's virtio header the same way.
//
// Frames larger than an RX ring slot (super-frames) are not cut short: PACKET_COPY_THRESH has the kernel queue
// them whole on the socket as well, and they are read with one recv() each. TX frames are staged, and a burst
// goes out with one sendmmsg(), consecutive data segments of a connection joined into GSO super-frames
// (tcp_coalescer.hpp). (A TX ring would not help: the kernel copies ring frames it forwards to a veth anyway,
// and it cannot carry super-frames in 2 KiB slots.)
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <string>
#include <vector>

#include "dmm/kernel/unique_fd.hpp"
#include "frame_port.hpp"
#include "offload_frames.hpp"
#include "tcp_coalescer.hpp"

namespace dmm::lwip_dpdk {

class PacketRingPort final : public FramePort {
public:
  // Opens interface `iface` in the namespace file `netns_path` ("" = this process's). Needs CAP_NET_RAW there.
  static Result<std::unique_ptr<PacketRingPort>> open(const std::string& iface, const std::string& netns_path);
  ~PacketRingPort() override;
  PacketRingPort(const PacketRingPort&) = delete;
  PacketRingPort& operator=(const PacketRingPort&) = delete;

  const std::string& name() const override { return name_; }
  const std::array<std::uint8_t, 6>& mac() const override { return mac_; }
  std::uint16_t mtu() const override { return mtu_; }
  std::size_t receive(std::size_t max, const FrameSink& sink) override;
  std::uint8_t* begin_frame(std::size_t length) override;
  std::size_t flush() override;
  bool has_queued() const override { return !staged_.empty(); }
  const PortCounters& counters() const override { return counters_; }
  int wake_fd() const override { return fd_.get(); }  // the ring has a frame, or a super-frame waits whole

private:
  struct Ring {
    std::uint8_t* base = nullptr;
    std::size_t frame_size = 0;
    std::size_t frames = 0;
    std::size_t next = 0;
    std::uint8_t* slot(std::size_t i) const { return base + i * frame_size; }
  };
  PacketRingPort() = default;
  void deliver(std::uint8_t* slot, const FrameSink& sink);
  void deliver_copied(const FrameSink& sink, bool drop);
  void send_one_by_one(const TcpCoalescer::Message& message);
  void count(OffloadResult result, const OffloadMarks& marks);

  std::string name_;
  kernel::UniqueFd fd_;
  void* map_ = nullptr;
  std::size_t map_size_ = 0;
  Ring rx_;
  std::unique_ptr<std::uint8_t[]> tx_bytes_;  // staged frames, back to back
  std::size_t tx_used_ = 0;
  std::vector<TcpCoalescer::Piece> staged_;    // where each staged frame is
  TcpCoalescer coalescer_;
  // A burst's sendmmsg() arguments, kept between bursts so that sending allocates nothing.
  std::vector<std::array<std::uint8_t, 10>> tx_vnet_;
  std::vector<iovec> tx_iov_;
  std::vector<mmsghdr> tx_messages_;
  std::array<std::uint8_t, 6> mac_{};
  std::uint16_t mtu_ = 1500;
  std::vector<std::uint8_t> big_frame_;  // one super-frame read with recv()
  PortCounters counters_;
};

}  // namespace dmm::lwip_dpdk
