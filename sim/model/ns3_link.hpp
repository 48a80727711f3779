#pragma once
// A point-to-point link between two ns-3 nodes with its own /24, whose rate, delay, loss and up/down state a
// scenario changes while the simulation runs.
#include <cstdint>
#include <optional>
#include <string>

#include "dmm/units.hpp"
#include "ns3/ipv4-address.h"
#include "ns3/net-device-container.h"
#include "ns3/node.h"
#include "ns3/ptr.h"

namespace ns3 {
class RateErrorModel;
class PointToPointChannel;
}  // namespace ns3

namespace dmm::sim {

// Error-model streams of link i are kLinkRngStreamBase + 2i (side a) and + 2i + 1 (side b) unless given.
// Explicit streams keep a link's losses the same for a seed whatever else the scenario creates, and in whatever
// order; other users of explicit streams should stay below this base.
inline constexpr std::int64_t kLinkRngStreamBase = std::int64_t{1} << 20;

struct Ns3LinkParams {
  std::uint32_t subnet_index = 0;  // 10.(i/256).(i%256).0/24; side a gets .1, side b .2. Below 65536.
  BitsPerSecond rate{100e6};
  Duration delay{std::chrono::milliseconds(1)};  // one way
  double loss = 0;                 // per-packet drop probability at each receiver, in [0, 1]
  std::uint32_t queue_packets = 100;  // drop-tail buffer of each sender (ns-3's and a common router default)
  std::optional<std::int64_t> rng_stream;  // first of the two streams; default from subnet_index (see above)
};

class Ns3Link {
public:
  // Both nodes must have an Internet stack. Throws std::invalid_argument for parameters out of range (the
  // scenario loader validates them first, so this is a bug).
  Ns3Link(ns3::Ptr<ns3::Node> a, ns3::Ptr<ns3::Node> b, const Ns3LinkParams& params);
  ~Ns3Link();
  Ns3Link(const Ns3Link&) = delete;
  Ns3Link& operator=(const Ns3Link&) = delete;

  // Changes apply to packets sent from now on; those already on the wire keep the old delay.
  void set_rate(BitsPerSecond rate);
  void set_delay(Duration delay);
  void set_loss(double probability);
  // Down = both IPv4 interfaces down: routes through the link vanish, new connects fail at once, packets of
  // live connections are dropped (TCP then times out unless the link comes back first).
  void set_up(bool up);
  bool is_up() const { return up_; }
  // Writes DIRECTORY/PREFIX-<node>-<device>.pcap for both ends.
  void enable_pcap(const std::string& directory, const std::string& prefix);

  BitsPerSecond rate() const { return rate_; }
  Duration delay() const { return delay_; }
  double loss() const { return loss_; }

  const ns3::NetDeviceContainer& devices() const { return devices_; }  // [0] on node a, [1] on node b
  ns3::Ptr<ns3::NetDevice> device_a() const { return devices_.Get(0); }
  ns3::Ptr<ns3::NetDevice> device_b() const { return devices_.Get(1); }
  ns3::Ipv4Address address_a() const { return address_a_; }
  ns3::Ipv4Address address_b() const { return address_b_; }
  std::uint32_t interface_a() const { return interface_a_; }  // ns-3 Ipv4 interface indices on each node
  std::uint32_t interface_b() const { return interface_b_; }

private:
  ns3::NetDeviceContainer devices_;
  ns3::Ptr<ns3::PointToPointChannel> channel_;
  ns3::Ptr<ns3::RateErrorModel> errors_a_, errors_b_;  // on each side's receiver
  ns3::Ipv4Address address_a_, address_b_;
  std::uint32_t interface_a_ = 0, interface_b_ = 0;
  BitsPerSecond rate_;
  Duration delay_;
  double loss_ = 0;
  bool up_ = true;
};

}  // namespace dmm::sim
