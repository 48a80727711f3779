#include "model/ns3_tcp_listener.hpp"

#include <utility>

#include "model/ns3_socket_util.hpp"
#include "model/ns3_tcp_access.hpp"
#include "model/ns3_tcp_l4.hpp"
#include "ns3/callback.h"
#include "ns3/simulator.h"
#include "ns3/tcp-socket-base.h"

namespace dmm::sim {
namespace {

// Resets a connection nobody will own. Half-open sockets forked before close() still call the accept callback
// they copied from the listener (ns-3's Fork copies it), possibly after the listener is gone. Deferred: ns-3 is
// in the middle of the socket's handshake code when it calls us, and goes on using the endpoint afterwards.
void reset(const ns3::Ptr<ns3::Socket>& socket) {
  ns3::Simulator::ScheduleNow([socket] {
    if (auto tcp = ns3::DynamicCast<ns3::TcpSocketBase>(socket)) abort_with_reset(*tcp);
    release_socket_later(socket);
  });
}

}  // namespace

Ns3TcpListener::Ns3TcpListener(ns3::Ptr<ns3::Socket> socket, AcceptEvents& events, Ns3ConnectionOptions options)
    : socket_(std::move(socket)), events_(events), options_(std::move(options)) {
  // Lambdas holding a weak reference, not MakeCallback(this): forks copy these callbacks and may outlive us.
  const std::weak_ptr<bool> alive = alive_;
  socket_->SetAcceptCallback(
      ns3::Callback<bool, ns3::Ptr<ns3::Socket>, const ns3::Address&>(
          [this, alive](ns3::Ptr<ns3::Socket>, const ns3::Address& from) {
            return !alive.expired() && on_request(from);
          }),
      ns3::Callback<void, ns3::Ptr<ns3::Socket>, const ns3::Address&>(
          [this, alive](ns3::Ptr<ns3::Socket> accepted, const ns3::Address&) {
            if (alive.expired()) {
              reset(accepted);
            } else {
              on_accepted(accepted);
            }
          }));
}

Ns3TcpListener::~Ns3TcpListener() { close(); }

void Ns3TcpListener::close() {
  if (!socket_) return;
  // The callbacks stay: late forks must still find "closed" and reset. alive_ stays too, so mark via socket_.
  socket_->Close();
  release_socket_later(std::exchange(socket_, nullptr));
}

bool Ns3TcpListener::on_request(const ns3::Address&) {
  // A failed stack does not answer: the SYN is dropped and the client retries or times out.
  return socket_ && !options_.stack->failed();
}

void Ns3TcpListener::on_accepted(ns3::Ptr<ns3::Socket> accepted) {
  if (!socket_ || options_.stack->failed()) {
    reset(accepted);
    return;
  }
  // Forks do not inherit the listener's trace connections: the accepted connection's TIME_WAIT is watched anew
  // (and the connection indexed).
  if (auto tcp = ns3::DynamicCast<ns3::TcpSocketBase>(accepted)) {
    if (auto l4 = time_wait_tcp(accepted->GetNode())) {
      l4->watch(tcp);
      l4->index_connection(tcp);
    }
  }
  events_.on_accept(std::make_unique<Ns3Connection>(accepted, options_, nullptr, /*established=*/true));
}

}  // namespace dmm::sim
