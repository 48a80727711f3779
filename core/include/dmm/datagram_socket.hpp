#pragma once
// A UDP socket that is not tied to one peer, as DNS clients and servers use one: bound to a local address and port,
// it sends each datagram to the address given with it and receives from anyone (recvfrom's source with each).
// Connection models a session with one peer; this is the other shape of UDP, which dmm-stackd needs to serve a
// program's unconnected UDP socket (or a UDP server) on a user-space instance. Its events are ConnectionEvents'
// on_readable only.
#include <cstddef>
#include <optional>
#include <span>

#include "dmm/address.hpp"
#include "dmm/result.hpp"

namespace dmm {

struct ConnectionMetrics;
class ConnectionEvents;

class DatagramSocket {
public:
  virtual ~DatagramSocket() = default;
  virtual void set_events(ConnectionEvents& events) = 0;
  // One datagram to `to`: the whole of `data` or an error (EMSGSIZE, ENETUNREACH, ENOBUFS, ...).
  virtual Status send_to(const Endpoint& to, std::span<const std::byte> data) = 0;
  struct Received {
    std::size_t size = 0;  // bytes put in the buffer; the rest of a longer datagram is dropped, as recvfrom(2) does
    Endpoint from;
  };
  // The oldest datagram waiting; EAGAIN when none is.
  virtual Result<Received> receive_from(std::span<std::byte> buffer) = 0;
  virtual Endpoint local_endpoint() const = 0;
  virtual ConnectionMetrics metrics() const = 0;
  virtual void close() = 0;  // no events after it
};

// How a datagram socket is opened. `local`: the any address (of its family) or one of the instance's, port 0 for
// one the stack picks. `v6only`: on the IPv6 any address, IPv6 only (else both families, as a Linux socket
// without IPV6_V6ONLY). `peer`: a connected socket's peer — receives only from it and is checked for a route at
// once (ENETUNREACH), as connect(2) on a UDP socket does; sends may still name other destinations.
struct DatagramOptions {
  Endpoint local;
  bool v6only = false;
  std::optional<Endpoint> peer;
  // An unconnected socket's first destination (a client's first sendto): checked for a route at once
  // (ENETUNREACH), as sendto(2) fails at once on a host without one, so that a ranked list can move on.
  std::optional<Endpoint> first_destination;
};

}  // namespace dmm
