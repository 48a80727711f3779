#pragma once
// Two things ns-3 3.37's TcpSocketBase does but does not offer publicly: abort with a RST (it has only the
// graceful Close, which sends FIN after the queued data), and naming the congestion control a socket runs.
#include <string>

namespace ns3 {
class TcpSocketBase;
}

namespace dmm::sim {

// Sends RST, cancels the socket's timers and releases its endpoint, like Linux's abort of a socket. The socket
// then never sends or delivers anything again. The error-close callback fires inside: detach callbacks first.
void abort_with_reset(ns3::TcpSocketBase& socket);

// The ns-3 TypeId name of the congestion-control object `socket` runs now (e.g. `ns3::TcpCubic`); empty if none.
std::string congestion_control_name(const ns3::TcpSocketBase& socket);

}  // namespace dmm::sim
