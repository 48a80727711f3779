#pragma once
// A listening ns-3 TCP socket: every handshake it completes becomes an Ns3Connection handed to AcceptEvents.
#include <memory>

#include "dmm/stack.hpp"
#include "model/ns3_connection.hpp"
#include "ns3/address.h"
#include "ns3/ptr.h"
#include "ns3/socket.h"

namespace dmm::sim {

class Ns3TcpListener final : public Listener {
public:
  // `socket` is bound and listening; its congestion control is what accepted connections inherit.
  Ns3TcpListener(ns3::Ptr<ns3::Socket> socket, AcceptEvents& events, Ns3ConnectionOptions options);
  ~Ns3TcpListener() override;  // close()
  Ns3TcpListener(const Ns3TcpListener&) = delete;
  Ns3TcpListener& operator=(const Ns3TcpListener&) = delete;

  // Stops listening. Handshakes completing afterwards are reset, as Linux resets its accept queue.
  void close() override;
  ns3::Ptr<ns3::Socket> socket() const { return socket_; }

private:
  bool on_request(const ns3::Address& from);
  void on_accepted(ns3::Ptr<ns3::Socket> socket);

  ns3::Ptr<ns3::Socket> socket_;
  AcceptEvents& events_;
  Ns3ConnectionOptions options_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace dmm::sim
