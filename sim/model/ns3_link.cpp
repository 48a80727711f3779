#include "model/ns3_link.hpp"

#include <stdexcept>

#include "ns3/data-rate.h"
#include "ns3/error-model.h"
#include "ns3/ipv4-interface-address.h"
#include "ns3/ipv4.h"
#include "ns3/nstime.h"
#include "ns3/point-to-point-channel.h"
#include "ns3/point-to-point-helper.h"
#include "ns3/point-to-point-net-device.h"
#include "ns3/pointer.h"
#include "ns3/queue-size.h"

namespace dmm::sim {
namespace {

ns3::DataRate to_data_rate(BitsPerSecond rate) {
  if (!(rate.value >= 1)) throw std::invalid_argument("link rate must be at least 1 bit/s");
  return ns3::DataRate(static_cast<std::uint64_t>(rate.value));
}

ns3::Time to_time(Duration d) {
  if (d.count() < 0) throw std::invalid_argument("link delay must not be negative");
  return ns3::NanoSeconds(d.count());
}

void check_probability(double p) {
  if (!(p >= 0 && p <= 1)) throw std::invalid_argument("link loss must be a probability in [0, 1]");
}

ns3::Ptr<ns3::RateErrorModel> make_errors(double loss, std::int64_t stream) {
  auto model = ns3::CreateObject<ns3::RateErrorModel>();
  model->SetUnit(ns3::RateErrorModel::ERROR_UNIT_PACKET);
  model->SetRate(loss);
  model->AssignStreams(stream);
  // Disabled at loss 0 so that a loss-free link draws no random numbers at all.
  if (loss == 0) model->Disable();
  return model;
}

// Adds `device` to the node's IPv4 with `address`/24 and brings it up; the static routing then holds the
// connected route. Done by hand, not with Ipv4AddressHelper: the helper keeps process-wide address bookkeeping
// and would add a queue disc in front of the device, which we do not want (see the constructor).
std::uint32_t add_interface(const ns3::Ptr<ns3::NetDevice>& device, ns3::Ipv4Address address) {
  const auto ipv4 = device->GetNode()->GetObject<ns3::Ipv4>();
  if (!ipv4) throw std::invalid_argument("link endpoint node has no Internet stack");
  const std::uint32_t interface = ipv4->AddInterface(device);
  ipv4->AddAddress(interface, ns3::Ipv4InterfaceAddress(address, ns3::Ipv4Mask("255.255.255.0")));
  ipv4->SetMetric(interface, 1);
  ipv4->SetUp(interface);
  return interface;
}

}  // namespace

Ns3Link::Ns3Link(ns3::Ptr<ns3::Node> a, ns3::Ptr<ns3::Node> b, const Ns3LinkParams& params)
    : rate_(params.rate), delay_(params.delay), loss_(params.loss) {
  if (params.subnet_index >= 65536) throw std::invalid_argument("link subnet index must be below 65536");
  if (params.queue_packets == 0) throw std::invalid_argument("link queue must hold at least one packet");
  check_probability(params.loss);

  ns3::PointToPointHelper p2p;
  p2p.SetDeviceAttribute("DataRate", ns3::DataRateValue(to_data_rate(params.rate)));
  p2p.SetChannelAttribute("Delay", ns3::TimeValue(to_time(params.delay)));
  // The device's drop-tail queue is the link's only buffer, like a router port: without flow control no queue
  // disc is stacked in front of it (ns-3 would otherwise add one of 1000 packets, seconds of queue at 10 Mbit/s).
  p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize",
               ns3::QueueSizeValue(ns3::QueueSize(ns3::QueueSizeUnit::PACKETS, params.queue_packets)));
  p2p.DisableFlowControl();
  devices_ = p2p.Install(a, b);
  channel_ = ns3::DynamicCast<ns3::PointToPointChannel>(devices_.Get(0)->GetChannel());

  const std::int64_t stream = params.rng_stream.value_or(kLinkRngStreamBase + 2 * std::int64_t{params.subnet_index});
  errors_a_ = make_errors(params.loss, stream);
  errors_b_ = make_errors(params.loss, stream + 1);
  devices_.Get(0)->SetAttribute("ReceiveErrorModel", ns3::PointerValue(errors_a_));
  devices_.Get(1)->SetAttribute("ReceiveErrorModel", ns3::PointerValue(errors_b_));

  const std::uint32_t base = (10u << 24) | (params.subnet_index << 8);
  address_a_ = ns3::Ipv4Address(base | 1);
  address_b_ = ns3::Ipv4Address(base | 2);
  interface_a_ = add_interface(devices_.Get(0), address_a_);
  interface_b_ = add_interface(devices_.Get(1), address_b_);
}

Ns3Link::~Ns3Link() = default;

void Ns3Link::set_rate(BitsPerSecond rate) {
  const ns3::DataRate r = to_data_rate(rate);
  for (std::uint32_t i = 0; i < 2; ++i) ns3::DynamicCast<ns3::PointToPointNetDevice>(devices_.Get(i))->SetDataRate(r);
  rate_ = rate;
}

void Ns3Link::set_delay(Duration delay) {
  channel_->SetAttribute("Delay", ns3::TimeValue(to_time(delay)));
  delay_ = delay;
}

void Ns3Link::set_loss(double probability) {
  check_probability(probability);
  for (const auto& model : {errors_a_, errors_b_}) {
    model->SetRate(probability);
    if (probability == 0) {
      model->Disable();
    } else {
      model->Enable();
    }
  }
  loss_ = probability;
}

void Ns3Link::set_up(bool up) {
  if (up == up_) return;
  const auto set = [up](const ns3::Ptr<ns3::NetDevice>& device, std::uint32_t interface) {
    const auto ipv4 = device->GetNode()->GetObject<ns3::Ipv4>();
    if (up) {
      ipv4->SetUp(interface);
    } else {
      ipv4->SetDown(interface);
    }
  };
  set(devices_.Get(0), interface_a_);
  set(devices_.Get(1), interface_b_);
  up_ = up;
}

void Ns3Link::enable_pcap(const std::string& directory, const std::string& prefix) {
  ns3::PointToPointHelper p2p;  // any helper will do: pcap hooks the devices' own trace sources
  const std::string path = directory.empty() ? prefix : directory + "/" + prefix;
  p2p.EnablePcap(path, devices_.Get(0), false);
  p2p.EnablePcap(path, devices_.Get(1), false);
}

}  // namespace dmm::sim
