#include "model/ns3_stack.hpp"

#include <cerrno>
#include <sstream>
#include <utility>

#include "model/ns3_connection.hpp"
#include "model/ns3_socket_util.hpp"
#include "model/ns3_tcp_l4.hpp"
#include "model/ns3_tcp_listener.hpp"
#include "model/ns3_tcp_profile.hpp"
#include "model/ns3_tcp_variant.hpp"
#include "model/ns3_udp_listener.hpp"
#include "ns3/double.h"
#include "ns3/inet-socket-address.h"
#include "ns3/ipv4.h"
#include "ns3/tcp-socket-base.h"
#include "ns3/tcp-socket-factory.h"
#include "ns3/udp-socket-factory.h"

namespace dmm::sim {
namespace {

std::string describe(ns3::Ipv4Address a) {
  std::ostringstream out;
  out << a;
  return out.str();
}

}  // namespace

Result<std::unique_ptr<Ns3Stack>> Ns3Stack::create(Ns3StackParams params) {
  if (!params.node) return make_error(EINVAL, "stack " + params.info.id + ": no ns-3 node");
  if (!params.node->GetObject<ns3::Ipv4>()) {
    return make_error(EINVAL, "stack " + params.info.id + ": node has no Internet stack installed");
  }
  if (!time_wait_tcp(params.node)) {
    return make_error(EINVAL, "stack " + params.info.id + ": node's TCP is ns-3's own (use install_internet_stack)");
  }
  if (!is_known_tcp_variant(params.tcp_variant)) {
    return make_error(EINVAL, "stack " + params.info.id + ": unknown TCP variant `" + params.tcp_variant + "`");
  }
  return std::unique_ptr<Ns3Stack>(new Ns3Stack(std::move(params)));
}

Ns3Stack::Ns3Stack(Ns3StackParams params) : params_(std::move(params)) {}

void Ns3Stack::set_failed(bool failed) {
  state_->set_failed(failed, make_error(ENETDOWN, "stack " + params_.info.id + " failed"));
}

Result<ns3::Ptr<ns3::Socket>> Ns3Stack::open_socket(L4Proto proto, std::uint16_t port) const {
  const ns3::TypeId factory =
      proto == L4Proto::tcp ? ns3::TcpSocketFactory::GetTypeId() : ns3::UdpSocketFactory::GetTypeId();
  ns3::Ptr<ns3::Socket> socket = ns3::Socket::CreateSocket(params_.node, factory);
  const ns3::Ptr<ns3::TcpSocketBase> tcp = ns3::DynamicCast<ns3::TcpSocketBase>(socket);
  const ns3::Ptr<TimeWaitTcpL4Protocol> l4 = time_wait_tcp(params_.node);
  if (tcp && port == 0) {
    if (!l4->bind_ephemeral(*tcp, params_.local)) {
      const bool out_of_ports =
          socket->GetErrno() == ns3::Socket::ERROR_ADDRINUSE || socket->GetErrno() == ns3::Socket::ERROR_NOTERROR;
      Error error = out_of_ports
                        ? make_error(EADDRNOTAVAIL, "stack " + params_.info.id + ": no free local port (" +
                                                        std::to_string(l4->connections_in_time_wait()) +
                                                        " connections in TIME_WAIT)")
                        : socket_error(*socket, "bind");
      socket->Close();
      return error;
    }
  } else if (socket->Bind(ns3::InetSocketAddress(params_.local, port)) != 0) {
    Error error = socket_error(*socket, "bind");
    socket->Close();
    return error;
  }
  if (params_.device) socket->BindToNetDevice(params_.device);
  if (tcp) {
    // Before connect/listen: ns-3 gives the socket its node-wide default first; accepted sockets fork this one.
    apply_tcp_variant(*tcp, params_.tcp_variant,
                      params_.next_rng_stream ? std::optional(params_.next_rng_stream()) : std::nullopt);
    apply_tcp_profile(*tcp, params_.info.kind);
    if (params_.time_wait) {
      // ns-3 keeps a connection in TIME_WAIT for twice the maximum segment lifetime.
      tcp->SetAttribute("MaxSegLifetime",
                        ns3::DoubleValue(std::chrono::duration<double>(*params_.time_wait).count() / 2));
    }
    l4->watch(tcp);
  }
  return socket;
}

Result<std::unique_ptr<Connection>> Ns3Stack::connect(const Endpoint& to, L4Proto proto, ConnectionEvents& events) {
  const std::string& id = params_.info.id;
  if (state_->failed()) return make_error(ENETDOWN, "stack " + id + " has failed");
  const StackCapabilities& caps = params_.info.capabilities;
  if ((proto == L4Proto::tcp && !caps.tcp) || (proto == L4Proto::udp && !caps.udp)) {
    return make_error(EPROTONOSUPPORT, "stack " + id + " does not carry this protocol");
  }
  const std::optional<ns3::Ipv4Address> peer = params_.resolve ? params_.resolve(to.address) : to_ns3(to.address);
  if (!peer || *peer == ns3::Ipv4Address::GetAny()) {
    return make_error(ENETUNREACH, "destination unreachable from stack " + id);
  }
  // Linux fails connect() at once when there is no route (e.g. the interface is down); ns-3 would only fail
  // later, or leave a half-made socket behind.
  if (!has_route(params_.node, *peer, params_.device)) {
    return make_error(ENETUNREACH, "stack " + id + ": no route to " + describe(*peer));
  }
  Result<ns3::Ptr<ns3::Socket>> socket = open_socket(proto, 0);
  if (!socket) return socket.error();
  auto connection = std::make_unique<Ns3Connection>(
      *socket, Ns3ConnectionOptions{proto, params_.processing_delay, state_}, &events, /*established=*/false);
  if (Status started = connection->connect(ns3::InetSocketAddress(*peer, to.port)); !started) return started.error();
  if (auto tcp = ns3::DynamicCast<ns3::TcpSocketBase>(*socket)) time_wait_tcp(params_.node)->index_connection(tcp);
  return std::unique_ptr<Connection>(std::move(connection));
}

Result<std::unique_ptr<Listener>> Ns3Stack::listen(const Endpoint& on, L4Proto proto, AcceptEvents& events) {
  const std::string& id = params_.info.id;
  if (state_->failed()) return make_error(ENETDOWN, "stack " + id + " has failed");
  const StackCapabilities& caps = params_.info.capabilities;
  if ((proto == L4Proto::tcp && !caps.tcp) || (proto == L4Proto::udp && !caps.udp)) {
    return make_error(EPROTONOSUPPORT, "stack " + id + " does not carry this protocol");
  }
  Result<ns3::Ptr<ns3::Socket>> socket = open_socket(proto, on.port);
  if (!socket) return socket.error();
  const Ns3ConnectionOptions options{proto, params_.processing_delay, state_};
  if (proto == L4Proto::udp) return std::unique_ptr<Listener>(std::make_unique<Ns3UdpListener>(*socket, events, options));
  if ((*socket)->Listen() != 0) {
    Error error = socket_error(**socket, "listen");
    (*socket)->Close();
    return error;
  }
  return std::unique_ptr<Listener>(std::make_unique<Ns3TcpListener>(*socket, events, options));
}

}  // namespace dmm::sim
