#include "run/byte_inbox.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace dmm::sim {

void ByteInbox::push(std::vector<std::byte> bytes, TimePoint ready_at) {
  if (bytes.empty()) return;
  size_ += bytes.size();
  chunks_.push_back(Chunk{std::move(bytes), 0, ready_at});
}

std::size_t ByteInbox::take(std::span<std::byte> out, TimePoint now) {
  std::size_t copied = 0;
  while (copied < out.size() && !chunks_.empty() && chunks_.front().ready_at <= now) {
    Chunk& chunk = chunks_.front();
    const std::size_t n = std::min(out.size() - copied, chunk.bytes.size() - chunk.offset);
    std::memcpy(out.data() + copied, chunk.bytes.data() + chunk.offset, n);
    copied += n;
    chunk.offset += n;
    size_ -= n;
    if (chunk.offset == chunk.bytes.size()) chunks_.pop_front();
  }
  return copied;
}

bool ByteInbox::has_ready(TimePoint now) const { return !chunks_.empty() && chunks_.front().ready_at <= now; }

void ByteInbox::clear() {
  chunks_.clear();
  size_ = 0;
}

}  // namespace dmm::sim
