#pragma once
// Received bytes the application has not read yet, each chunk visible only from its ready time on. Used where data
// must leave the ns-3 socket before the application reads it (UDP datagrams, which ns-3 hands out whole) and to
// model a stack's per-packet processing delay on the receive path. No ns-3 here.
#include <cstddef>
#include <deque>
#include <span>
#include <vector>

#include "dmm/units.hpp"

namespace dmm::sim {

class ByteInbox {
public:
  // Chunks must be pushed in non-decreasing `ready_at` order (a constant delay after arrival guarantees it).
  void push(std::vector<std::byte> bytes, TimePoint ready_at);
  // Copies out bytes of chunks ready at `now`, in arrival order; returns how many.
  std::size_t take(std::span<std::byte> out, TimePoint now);
  bool has_ready(TimePoint now) const;
  std::size_t size() const { return size_; }  // every byte held, ready or not
  void clear();

private:
  struct Chunk {
    std::vector<std::byte> bytes;
    std::size_t offset = 0;  // bytes of this chunk already read
    TimePoint ready_at{0};
  };
  std::deque<Chunk> chunks_;
  std::size_t size_ = 0;
};

}  // namespace dmm::sim
