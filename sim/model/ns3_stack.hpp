#pragma once
// A simulated stack instance: one ns-3 node, optionally pinned to one interface (the path it uses), one TCP
// variant, one per-packet processing cost. The ns-3 backend of the core's Stack seam.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dmm/stack.hpp"
#include "model/ns3_stack_state.hpp"
#include "ns3/ipv4-address.h"
#include "ns3/net-device.h"
#include "ns3/node.h"
#include "ns3/ptr.h"
#include "ns3/socket.h"

namespace dmm::sim {

struct Ns3StackParams {
  StackInfo info;
  ns3::Ptr<ns3::Node> node;          // has an Internet stack installed
  ns3::Ptr<ns3::NetDevice> device;   // sockets are bound to it; null = any interface (server-side listeners)
  ns3::Ipv4Address local = ns3::Ipv4Address::GetAny();  // source address of connections; any = by route
  // Translates a destination identity address into the peer's address reachable through this stack's link;
  // nullopt = unreachable from this stack. Empty function = the destination is already an ns-3 address.
  std::function<std::optional<ns3::Ipv4Address>(const IpAddress& dst)> resolve;
  std::string tcp_variant = "cubic";  // one of known_tcp_variants()
  // The ns-3 random stream of each new TCP socket's congestion control (BBR draws random numbers); empty = ns-3's
  // automatic numbering, which depends on what ran before in the process.
  std::function<std::int64_t()> next_rng_stream;
  Duration processing_delay{0};       // see Ns3ConnectionOptions
  // TIME_WAIT of the connections this stack closes first; nullopt: the kind's (apply_tcp_profile).
  std::optional<Duration> time_wait;
};

class Ns3Stack final : public Stack {
public:
  // EINVAL for an unknown TCP variant, a null node or a node without IPv4.
  static Result<std::unique_ptr<Ns3Stack>> create(Ns3StackParams params);

  const StackInfo& info() const override { return params_.info; }
  // Immediate errors: ENETDOWN (stack failed), ENETUNREACH (resolve rejects, or no route / interface down now),
  // EPROTONOSUPPORT (protocol not in the capabilities), errors of bind. TCP outcomes follow as events:
  // on_connected, or on_failed with ECONNREFUSED / ETIMEDOUT; later ECONNRESET / ETIMEDOUT / ENETDOWN.
  Result<std::unique_ptr<Connection>> connect(const Endpoint& to, L4Proto proto, ConnectionEvents& events) override;
  // Listens on `on.port` at the stack's local address (any by default) and device; `on.address` is not used
  // (the world addresses stacks by identity, not by ns-3 address).
  Result<std::unique_ptr<Listener>> listen(const Endpoint& on, L4Proto proto, AcceptEvents& events) override;

  // A failed stack refuses new connections (ENETDOWN), ignores incoming ones, and kills every live connection
  // it made or accepted: each gets on_failed(ENETDOWN) once, its TCP peer gets a RST. Recovery lets new
  // connections through again; killed ones stay dead.
  void set_failed(bool failed);
  bool failed() const { return state_->failed(); }

  const Ns3StackParams& params() const { return params_; }
  std::size_t live_connections() const { return state_->live(); }

private:
  explicit Ns3Stack(Ns3StackParams params);
  Result<ns3::Ptr<ns3::Socket>> open_socket(L4Proto proto, std::uint16_t port) const;

  Ns3StackParams params_;
  std::shared_ptr<Ns3StackState> state_ = std::make_shared<Ns3StackState>();
};

}  // namespace dmm::sim
