#pragma once
// TCP connections in TIME_WAIT, kept outside ns-3's endpoint list (see ns3_tcp_l4.hpp for why). Like Linux's
// timewait sockets: a small record per connection in a hash table, not a whole socket in a list every packet
// scans. It answers two questions: does an arriving segment belong to a connection in TIME_WAIT (then it is
// swallowed, as ns-3's own TIME_WAIT state does), and is a local port still taken by one (then a new connection
// must not get it, or the peer's late segments would reach the wrong connection).
#include <cstddef>
#include <cstdint>
#include <queue>
#include <unordered_map>
#include <vector>

#include "dmm/units.hpp"

namespace dmm::sim {

// A TCP connection as a node's demultiplexer sees it: this end's address and port, the peer's.
struct TcpConnectionKey {
  std::uint32_t local_address = 0;
  std::uint16_t local_port = 0;
  std::uint32_t peer_address = 0;
  std::uint16_t peer_port = 0;
  friend bool operator==(const TcpConnectionKey&, const TcpConnectionKey&) = default;
};

struct TcpConnectionKeyHash {
  std::size_t operator()(const TcpConnectionKey& c) const noexcept;
};

class TimeWaitTable {
public:
  using Connection = TcpConnectionKey;

  // `first`..`last`: the ephemeral port range whose held ports ports_held_in_range counts.
  TimeWaitTable(std::uint16_t first = 0, std::uint16_t last = 65535) { count_ports_between(first, last); }
  void count_ports_between(std::uint16_t first, std::uint16_t last);

  // `device` is the interface the connection was bound to (null: any); only compared, never used.
  void hold(const Connection& c, const void* device, TimePoint until);
  // Whether a segment of `c` that arrived on `arrived_on` at `now` meets a connection in TIME_WAIT. A
  // connection bound to another interface does not see it (ns-3's demultiplexer skips such endpoints too).
  bool holds(const Connection& c, const void* arrived_on, TimePoint now);
  // Whether some connection in TIME_WAIT at `now` uses `port` as its local port, on any address: ns-3 hands out
  // ephemeral ports unique per node, not per address.
  bool port_taken(std::uint16_t port, TimePoint now);
  // Connections still in TIME_WAIT at `now`, and the distinct local ports they hold.
  std::size_t size(TimePoint now);
  std::size_t ports_held(TimePoint now);
  std::size_t ports_held_in_range(TimePoint now);
  // Cheap, for the per-packet path: true when nothing is held (expired records may still count as held).
  bool empty() const { return entries_.empty(); }

private:
  struct Entry {
    const void* device = nullptr;
    TimePoint until{0};
  };
  struct Expiry {
    TimePoint until;
    Connection connection;
    bool operator>(const Expiry& o) const { return until > o.until; }
  };
  void expire(TimePoint now);
  bool in_range(std::uint16_t port) const { return port >= range_first_ && port <= range_last_; }

  std::unordered_map<Connection, Entry, TcpConnectionKeyHash> entries_;
  std::unordered_map<std::uint16_t, std::uint32_t> ports_;  // local port -> connections using it
  std::uint16_t range_first_ = 0, range_last_ = 65535;
  std::size_t ports_in_range_ = 0;  // keys of ports_ within [range_first_, range_last_]
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiries_;
};

}  // namespace dmm::sim
