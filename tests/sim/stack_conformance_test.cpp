// The Stack conformance suite (tests/common/stack_conformance.hpp) on the ns-3 kind: a client node's stack bound
// to its point-to-point link (as dmm-sim builds a scenario's stack), its peer the server node's stack. Simulated
// time only.
#include "stack_conformance.hpp"

#include <stdexcept>

#include "model/ns3_defaults.hpp"
#include "model/ns3_link.hpp"
#include "model/ns3_stack.hpp"
#include "model/ns3_tcp_l4.hpp"
#include "ns3/internet-stack-helper.h"
#include "ns3/node.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"

namespace dmm::conformance {
namespace {

IpAddress from_ns3(ns3::Ipv4Address a) {
  const std::uint32_t v = a.Get();
  IpAddress out;
  out.bytes = {std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)};
  return out;
}

class Ns3World {
public:
  // The stack resolves a destination through its link: an address with no way there is refused at connect.
  static constexpr int kUnreachableErrno = ENETUNREACH;

  Ns3World() {
    sim::configure_ns3_defaults();
    ns3::RngSeedManager::SetSeed(1);
    ns3::RngSeedManager::SetRun(1);
    client_ = ns3::CreateObject<ns3::Node>();
    server_ = ns3::CreateObject<ns3::Node>();
    sim::install_internet_stack(ns3::NodeContainer(client_, server_));
    sim::Ns3LinkParams link;
    link.subnet_index = 1;
    link.rate = BitsPerSecond{20e6};
    link.delay = std::chrono::milliseconds(5);
    link_ = std::make_unique<sim::Ns3Link>(client_, server_, link);
    stack_ = make(params("under-test", client_, link_->device_a(), link_->address_a(), link_->address_b()));
    peer_ = make(params("peer", server_, nullptr, ns3::Ipv4Address::GetAny(), std::nullopt));
  }
  ~Ns3World() {
    stack_.reset();
    peer_.reset();
    link_.reset();
    ns3::Simulator::Destroy();
  }

  Stack& stack() { return *stack_; }
  Stack& peer() { return *peer_; }
  Endpoint peer_endpoint(std::uint16_t port) { return {from_ns3(link_->address_b()), port}; }
  Endpoint stack_endpoint(std::uint16_t port) { return {from_ns3(link_->address_a()), port}; }
  Endpoint unreachable(std::uint16_t port) { return {IpAddress::v4(0x0a630001), port}; }  // 10.99.0.1
  bool run_until(const std::function<bool()>& done, Duration limit) {
    const ns3::Time end = ns3::Simulator::Now() + ns3::NanoSeconds(limit.count());
    while (!done()) {
      if (ns3::Simulator::Now() >= end) return false;
      ns3::Simulator::Stop(ns3::MilliSeconds(1));
      ns3::Simulator::Run();
    }
    return true;
  }

private:
  // The server's stack is not bound to a device and takes any destination as an ns-3 address; the client's
  // reaches only the far end of its own link.
  static sim::Ns3StackParams params(const std::string& name, ns3::Ptr<ns3::Node> node, ns3::Ptr<ns3::NetDevice> device,
                                    ns3::Ipv4Address local, std::optional<ns3::Ipv4Address> only) {
    sim::Ns3StackParams p;
    p.info.id = name;
    p.info.kind = "ns3";
    p.node = std::move(node);
    p.device = std::move(device);
    p.local = local;
    if (only)
      p.resolve = [far = *only](const IpAddress& dst) -> std::optional<ns3::Ipv4Address> {
        if (dst == from_ns3(far)) return far;
        return std::nullopt;
      };
    return p;
  }
  static std::unique_ptr<Stack> make(sim::Ns3StackParams p) {
    auto s = sim::Ns3Stack::create(std::move(p));
    if (!s) throw std::runtime_error(s.error().message);
    return std::move(*s);
  }

  ns3::Ptr<ns3::Node> client_, server_;
  std::unique_ptr<sim::Ns3Link> link_;
  std::unique_ptr<Stack> stack_, peer_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Ns3, StackConformance, Ns3World);

}  // namespace
}  // namespace dmm::conformance
