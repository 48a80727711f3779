#include "model/time_wait_table.hpp"

namespace dmm::sim {

std::size_t TcpConnectionKeyHash::operator()(const TcpConnectionKey& c) const noexcept {
  // The peer's port varies most between connections of one node; mix every field anyway.
  std::uint64_t h = (std::uint64_t{c.local_address} << 32) | c.peer_address;
  h ^= (std::uint64_t{c.local_port} << 16 | c.peer_port) * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  return static_cast<std::size_t>(h * 0xBF58476D1CE4E5B9ull);
}

void TimeWaitTable::hold(const Connection& c, const void* device, TimePoint until) {
  auto [it, added] = entries_.try_emplace(c, Entry{device, until});
  if (added) {
    if (++ports_[c.local_port] == 1 && in_range(c.local_port)) ++ports_in_range_;
  } else {
    it->second = Entry{device, until};  // the older record's expiry entry finds a later `until` and is skipped
  }
  expiries_.push({until, c});
}

bool TimeWaitTable::holds(const Connection& c, const void* arrived_on, TimePoint now) {
  expire(now);
  auto it = entries_.find(c);
  if (it == entries_.end()) return false;
  return it->second.device == nullptr || it->second.device == arrived_on;
}

bool TimeWaitTable::port_taken(std::uint16_t port, TimePoint now) {
  expire(now);
  return ports_.count(port) != 0;
}

std::size_t TimeWaitTable::size(TimePoint now) {
  expire(now);
  return entries_.size();
}

std::size_t TimeWaitTable::ports_held(TimePoint now) {
  expire(now);
  return ports_.size();
}

std::size_t TimeWaitTable::ports_held_in_range(TimePoint now) {
  expire(now);
  return ports_in_range_;
}

void TimeWaitTable::count_ports_between(std::uint16_t first, std::uint16_t last) {
  range_first_ = first;
  range_last_ = last;
  ports_in_range_ = 0;
  for (const auto& [port, connections] : ports_) ports_in_range_ += in_range(port);
}

void TimeWaitTable::expire(TimePoint now) {
  // A connection leaves TIME_WAIT at `until`: ns-3's timer fires then and a segment at that instant would
  // already find the endpoint gone.
  while (!expiries_.empty() && expiries_.top().until <= now) {
    const Expiry e = expiries_.top();
    expiries_.pop();
    auto it = entries_.find(e.connection);
    if (it == entries_.end() || it->second.until != e.until) continue;  // held again later: a newer expiry
    entries_.erase(it);
    auto port = ports_.find(e.connection.local_port);
    if (--port->second == 0) {
      if (in_range(port->first)) --ports_in_range_;
      ports_.erase(port);
    }
  }
}

}  // namespace dmm::sim
