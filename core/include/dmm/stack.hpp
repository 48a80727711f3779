#pragma once
// A stack instance: one way to carry a session (a kernel namespace, an lwIP/DPDK port, an ns-3 node+link).
// The seam between the core and every backend; callbacks arrive on the backend's Executor.
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "dmm/address.hpp"
#include "dmm/datagram_socket.hpp"
#include "dmm/result.hpp"
#include "dmm/session.hpp"
#include "dmm/units.hpp"

namespace dmm {

using StackId = std::string;

struct StackCapabilities {
  bool tcp = true;
  bool udp = true;
  bool ipv6 = false;
  bool multipath = false;
};

struct StackInfo {
  StackId id;         // instance name, e.g. `kernel-a`
  std::string kind;   // registry name, e.g. `kernel`, `lwip-dpdk`, `ns3`
  StackCapabilities capabilities;
};

// What a connection has seen so far; cumulative since it was opened.
struct ConnectionMetrics {
  Duration rtt{0};            // latest smoothed/last RTT sample; zero = none yet
  ByteCount bytes_sent = 0;   // handed to the stack by the application
  // Of those, what the peer has acknowledged (TCP); equal to bytes_sent where there are no acks (UDP). This,
  // not bytes_sent, measures delivery: a large send buffer takes megabytes at once.
  ByteCount bytes_acked = 0;
  ByteCount bytes_received = 0;
  // Of bytes_sent, those the stack holds and has not transmitted once (Linux: tcpi_notsent_bytes). Non-zero means
  // the sender is waiting for the network (congestion or receive window), not for the application: what it
  // delivers then measures the path, not the demand. Zero where a backend cannot tell, and for UDP.
  ByteCount bytes_unsent = 0;
  std::uint64_t segments_sent = 0;
  std::uint64_t retransmits = 0;
};

// Events of one connection. Every method has a no-op default so that sinks implement only what they use.
class ConnectionEvents {
public:
  virtual ~ConnectionEvents() = default;
  virtual void on_connected() {}
  virtual void on_failed(const Error&) {}  // set-up or later failure; the connection is dead afterwards
  virtual void on_readable() {}
  virtual void on_writable() {}           // send buffer has room again after a short send
  virtual void on_peer_closed() {}        // end of stream from the peer
};

class Connection {
public:
  virtual ~Connection() = default;
  virtual void set_events(ConnectionEvents& events) = 0;
  // Accepts up to data.size() bytes; returns how many were taken (0 when the send buffer is full).
  virtual Result<std::size_t> send(std::span<const std::byte> data) = 0;
  // Returns bytes copied; 0 with `peer_closed()` true means end of stream; EAGAIN when nothing is there.
  virtual Result<std::size_t> receive(std::span<std::byte> buffer) = 0;
  virtual void shutdown_write() = 0;
  virtual void close() = 0;  // no events are delivered after close()
  virtual ConnectionMetrics metrics() const = 0;
  // The local address and port, once the stack has chosen them (nullopt where a backend cannot tell).
  virtual std::optional<Endpoint> local_endpoint() const { return std::nullopt; }
  // The peer's address and port (an accepted connection's is news to its listener); nullopt where unknown.
  virtual std::optional<Endpoint> remote_endpoint() const { return std::nullopt; }
  // Nagle's algorithm off (TCP_NODELAY) or on; false if the backend has no such switch.
  virtual bool set_nodelay(bool on) {
    (void)on;
    return false;
  }
};

class AcceptEvents {
public:
  virtual ~AcceptEvents() = default;
  virtual void on_accept(std::unique_ptr<Connection> connection) = 0;
};

class Listener {
public:
  virtual ~Listener() = default;
  virtual void close() = 0;
  // Where it listens: the port the stack picked for port 0 (getsockname after listen). nullopt: cannot tell.
  virtual std::optional<Endpoint> local_endpoint() const { return std::nullopt; }
};

class Stack {
public:
  virtual ~Stack() = default;
  virtual const StackInfo& info() const = 0;
  // Asynchronous: returns at once; `events.on_connected` or `events.on_failed` follows on the executor.
  // An immediate error (no route, stack down) is returned instead of being delivered as an event.
  virtual Result<std::unique_ptr<Connection>> connect(const Endpoint& to, L4Proto proto,
                                                      ConnectionEvents& events) = 0;
  virtual Result<std::unique_ptr<Listener>> listen(const Endpoint& on, L4Proto proto, AcceptEvents& events) = 0;
  // The same with socket options a listener may need. `v6only`: a listener on the IPv6 any address takes IPv6
  // only (IPV6_V6ONLY; servers that also listen on 0.0.0.0 set it), else both families. Stacks without the
  // distinction ignore it.
  struct ListenOptions {
    bool v6only = false;
  };
  virtual Result<std::unique_ptr<Listener>> listen(const Endpoint& on, L4Proto proto, AcceptEvents& events,
                                                   const ListenOptions& options) {
    (void)options;
    return listen(on, proto, events);
  }
  // A UDP socket with any number of peers (datagram_socket.hpp). Stacks that cannot make one say EOPNOTSUPP.
  virtual Result<std::unique_ptr<DatagramSocket>> open_datagram(const DatagramOptions& options,
                                                                ConnectionEvents& events) {
    (void)options;
    (void)events;
    return make_error(EOPNOTSUPP, "stack '" + info().id + "' has no unconnected UDP sockets");
  }
  // True while connections already closed by the application still have data or a FIN to deliver. A kernel
  // does this after the process is gone; a stack living inside the process must be waited for before it exits.
  virtual bool delivering() const { return false; }
};

}  // namespace dmm
