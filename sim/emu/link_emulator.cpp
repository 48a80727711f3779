// The ns-3 side of dmm-emu's links: per scenario link two ns-3 nodes joined by the Ns3Link dmm-sim uses, each
// with an FdNetDevice on an AF_PACKET socket of a veth, routing between the real hosts behind them.
#include "emu/link_emulator.hpp"

#include "emu/packet_socket.hpp"
#include "model/ns3_defaults.hpp"
#include "model/ns3_link.hpp"
#include "ns3/boolean.h"
#include "ns3/core-module.h"
#include "ns3/fd-net-device-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/realtime-simulator-impl.h"

#include <sys/resource.h>

namespace dmm::sim::emu {
namespace {

using namespace dmm::emu;

ns3::Ipv4Address to_ns3(const IpAddress& a) {
  return ns3::Ipv4Address(a.to_string().c_str());
}

void count_tx(DirectionStats* d, ns3::Ptr<const ns3::Packet>) { ++d->packets_sent; }
void count_lost(DirectionStats* d, ns3::Ptr<const ns3::Packet>) { ++d->packets_lost; }
void count_queue_drop(DirectionStats* d, ns3::Ptr<const ns3::Packet>) { ++d->packets_queue_dropped; }

// Counts what one direction of a link delivered, and measures its rate fidelity: deliveries are grouped in windows
// of simulated time; in a window where ns-3 delivered at 95 % of the link's rate or more (the link was saturated),
// the time from its first to its last delivery is added up both in simulated time and on the wall clock. A
// faithful emulator spends the same wall time; one that falls further behind while the link is busy stretches it,
// and the real hosts see a lower rate than the configured one.
class DirectionMeter {
public:
  DirectionMeter(DirectionStats& stats, const Ns3Link& link, ns3::Ptr<ns3::RealtimeSimulatorImpl> clock)
      : stats_(stats), link_(link), clock_(std::move(clock)) {}

  void delivered(ns3::Ptr<const ns3::Packet> p) {
    ++stats_.packets_delivered;
    stats_.bytes_delivered += p->GetSize();
    const ns3::Time now = ns3::Simulator::Now();
    const ns3::Time wall = clock_ ? clock_->RealtimeNow() : now;
    const std::int64_t window = now.GetNanoSeconds() / kWindow.GetNanoSeconds();
    if (window != window_) {
      close_window();
      window_ = window;
      first_sim_ = now;
      first_wall_ = wall;
      window_bytes_ = 0;  // the first delivery marks the window's start; the bytes after it took the time
    } else {
      window_bytes_ += p->GetSize();
    }
    last_sim_ = now;
    last_wall_ = wall;
  }

  void close_window() {
    if (window_ < 0) return;
    const double sim_s = (last_sim_ - first_sim_).GetSeconds();
    const double full_rate_bytes = link_.rate().value / 8.0 * sim_s;
    if (sim_s > 0 && double(window_bytes_) >= kSaturated * full_rate_bytes) {
      stats_.saturated_sim_s += sim_s;
      stats_.saturated_wall_s += (last_wall_ - first_wall_).GetSeconds();
    }
    window_ = -1;
  }

private:
  static constexpr double kSaturated = 0.95;
  inline static const ns3::Time kWindow = ns3::MilliSeconds(250);
  DirectionStats& stats_;
  const Ns3Link& link_;
  ns3::Ptr<ns3::RealtimeSimulatorImpl> clock_;
  std::int64_t window_ = -1;
  std::uint64_t window_bytes_ = 0;
  ns3::Time first_sim_, last_sim_, first_wall_, last_wall_;
};

double process_cpu_seconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

class LinkEmulator::World {
public:
  explicit World(const EmulatorSpec& spec) : spec_(spec) {}

  ~World() {
    meters_.clear();
    links_.clear();
    ns3::Simulator::Destroy();
  }

  Status build() {
    ns3::GlobalValue::Bind("SimulatorImplementationType", ns3::StringValue("ns3::RealtimeSimulatorImpl"));
    // Frames from real hosts carry real checksums; forwarded ones must leave with correct IP header checksums.
    ns3::GlobalValue::Bind("ChecksumEnabled", ns3::BooleanValue(true));
    configure_ns3_defaults();
    ns3::RngSeedManager::SetSeed(1);
    ns3::RngSeedManager::SetRun(spec_.seed);
    nodes_.Create(static_cast<std::uint32_t>(2 * spec_.links.size()));
    ns3::InternetStackHelper internet;
    internet.Install(nodes_);
    stats_.links.resize(spec_.links.size());
    for (std::size_t i = 0; i < spec_.links.size(); ++i)
      if (auto st = build_link(i); !st) return st;
    for (const auto& e : spec_.events) {
      if (e.link >= links_.size()) return make_error(EINVAL, "event names link " + std::to_string(e.link));
      ns3::Simulator::Schedule(ns3::NanoSeconds(e.at.count()), [this, e] { apply(e); });
    }
    return {};
  }

  EmulatorStats run() {
    auto impl = ns3::DynamicCast<ns3::RealtimeSimulatorImpl>(ns3::Simulator::GetImplementation());
    schedule_lateness_tick(impl);
    ns3::Simulator::Stop(ns3::NanoSeconds(spec_.duration.count()));
    const double cpu_before = process_cpu_seconds();
    ns3::Simulator::Run();
    stats_.cpu_s = process_cpu_seconds() - cpu_before;
    stats_.wall_s = impl ? impl->RealtimeNow().GetSeconds() : 0;
    for (auto& meter : meters_) meter->close_window();
    for (const auto& [fd, stats] : sockets_) stats->packets_dropped_before_emulator += packet_socket_drops(fd);
    return stats_;
  }

private:
  Status build_link(std::size_t i) {
    const LinkSpec& l = spec_.links[i];
    auto a = nodes_.Get(static_cast<std::uint32_t>(2 * i)), b = nodes_.Get(static_cast<std::uint32_t>(2 * i + 1));
    Ns3LinkParams params;
    params.subnet_index = l.index;
    params.rate = l.rate;
    params.delay = l.delay;
    params.loss = l.loss;
    params.queue_packets = l.queue_packets;
    links_.push_back(std::make_unique<Ns3Link>(a, b, params));
    Ns3Link& link = *links_.back();
    LinkStats& stats = stats_.links[i];
    stats.index = l.index;
    watch(link, link.device_a(), link.device_b(), stats.a_to_b);
    watch(link, link.device_b(), link.device_a(), stats.b_to_a);
    // The same traces as dmm-sim's --pcap: the link's two point-to-point devices, named after the link.
    if (!spec_.pcap_dir.empty()) link.enable_pcap(spec_.pcap_dir, l.name);
    if (auto st = attach_host(a, l.a, stats.a_to_b); !st) return st;
    if (auto st = attach_host(b, l.b, stats.b_to_a); !st) return st;
    route_links_across(i);
    return {};
  }

  // Each side reaches the other host's subnet and what is behind it across the link. Again after the link comes
  // back up: ns-3's static routing drops an interface's routes when it goes down and restores only the connected
  // one when it comes up.
  void route_links_across(std::size_t i) {
    const LinkSpec& l = spec_.links[i];
    Ns3Link& link = *links_[i];
    auto a = nodes_.Get(static_cast<std::uint32_t>(2 * i)), b = nodes_.Get(static_cast<std::uint32_t>(2 * i + 1));
    route_across(a, l.b, link.address_b(), link.interface_a());
    route_across(b, l.a, link.address_a(), link.interface_b());
  }

  void watch(const Ns3Link& link, const ns3::Ptr<ns3::NetDevice>& sender, const ns3::Ptr<ns3::NetDevice>& receiver,
             DirectionStats& d) {
    sender->TraceConnectWithoutContext("MacTx", ns3::MakeBoundCallback(&count_tx, &d));
    sender->TraceConnectWithoutContext("MacTxDrop", ns3::MakeBoundCallback(&count_queue_drop, &d));
    auto clock = ns3::DynamicCast<ns3::RealtimeSimulatorImpl>(ns3::Simulator::GetImplementation());
    meters_.push_back(std::make_unique<DirectionMeter>(d, link, clock));
    receiver->TraceConnectWithoutContext("MacRx", ns3::MakeCallback(&DirectionMeter::delivered, meters_.back().get()));
    receiver->TraceConnectWithoutContext("PhyRxDrop", ns3::MakeBoundCallback(&count_lost, &d));
  }

  // The FdNetDevice toward a real host, its /24, and host routes to what the host answers for.
  // `from_host`: the direction whose frames this socket reads (the host's sends).
  Status attach_host(const ns3::Ptr<ns3::Node>& node, const LinkSide& side, DirectionStats& from_host) {
    if (side.interface.empty()) return {};  // no host at this end (dmm-emu's plan leaves it unused)
    auto socket = open_packet_socket(side.interface);
    if (!socket) return socket.error();
    sockets_.push_back({socket->fd, &from_host});
    (void)packet_socket_drops(socket->fd);  // from zero: what arrived before the run is not the run's
    ns3::Mac48Address mac;
    mac.CopyFrom(socket->mac.data());
    ns3::FdNetDeviceHelper helper;
    auto device = ns3::DynamicCast<ns3::FdNetDevice>(helper.Install(node).Get(0));
    device->SetFileDescriptor(socket->fd);
    device->SetAddress(mac);
    auto ipv4 = node->GetObject<ns3::Ipv4>();
    const std::uint32_t interface = ipv4->AddInterface(device);
    ipv4->AddAddress(interface, ns3::Ipv4InterfaceAddress(to_ns3(side.emulator), ns3::Ipv4Mask("255.255.255.0")));
    ipv4->SetUp(interface);
    auto routing = ns3::Ipv4StaticRoutingHelper().GetStaticRouting(ipv4);
    for (const auto& behind : side.behind) routing->AddHostRouteTo(to_ns3(behind), to_ns3(side.host), interface);
    return {};
  }

  void route_across(const ns3::Ptr<ns3::Node>& node, const LinkSide& far, ns3::Ipv4Address next_hop,
                    std::uint32_t interface) {
    auto routing = ns3::Ipv4StaticRoutingHelper().GetStaticRouting(node->GetObject<ns3::Ipv4>());
    routing->AddNetworkRouteTo(to_ns3(far.emulator).CombineMask(ns3::Ipv4Mask("255.255.255.0")),
                               ns3::Ipv4Mask("255.255.255.0"), next_hop, interface);
    for (const auto& behind : far.behind) routing->AddHostRouteTo(to_ns3(behind), next_hop, interface);
  }

  void apply(const LinkEventSpec& e) {
    Ns3Link& link = *links_[e.link];
    if (e.rate) link.set_rate(*e.rate);
    if (e.delay) link.set_delay(*e.delay);
    if (e.loss) link.set_loss(*e.loss);
    if (e.up) {
      const bool was_up = link.is_up();
      link.set_up(*e.up);
      if (*e.up && !was_up) route_links_across(e.link);
    }
  }

  // How late the emulator runs behind the wall clock: what every packet's delay gains on top of the link's.
  void schedule_lateness_tick(ns3::Ptr<ns3::RealtimeSimulatorImpl> impl) {
    if (!impl || spec_.lateness_tick.count() <= 0) return;
    ns3::Simulator::Schedule(ns3::NanoSeconds(spec_.lateness_tick.count()), [this, impl] {
      stats_.lateness_s.push_back(std::max(0.0, (impl->RealtimeNow() - ns3::Simulator::Now()).GetSeconds()));
      schedule_lateness_tick(impl);
    });
  }

  EmulatorSpec spec_;
  ns3::NodeContainer nodes_;
  std::vector<std::unique_ptr<Ns3Link>> links_;
  EmulatorStats stats_;  // before meters_: they write into it
  std::vector<std::unique_ptr<DirectionMeter>> meters_;
  std::vector<std::pair<int, DirectionStats*>> sockets_;  // the packet sockets (owned by their FdNetDevices)
};

Result<std::unique_ptr<LinkEmulator>> LinkEmulator::create(const EmulatorSpec& spec) {
  auto world = std::make_unique<World>(spec);
  try {
    if (auto st = world->build(); !st) return st.error();
  } catch (const std::exception& e) {
    return make_error(EINVAL, std::string("link emulator: ") + e.what());
  }
  return std::unique_ptr<LinkEmulator>(new LinkEmulator(std::move(world)));
}

LinkEmulator::LinkEmulator(std::unique_ptr<World> world) : world_(std::move(world)) {}
LinkEmulator::~LinkEmulator() = default;
EmulatorStats LinkEmulator::run() { return world_->run(); }

}  // namespace dmm::sim::emu
