#include "run/datagram_tag.hpp"

#include <algorithm>

namespace dmm::sim {
namespace {

constexpr std::uint32_t kMagic = 0x554d4d44;  // "DMMU" read as little-endian

void put(std::span<std::byte> out, std::size_t at, std::uint64_t value, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) out[at + i] = std::byte((value >> (8 * i)) & 0xff);
}

std::uint64_t get(std::span<const std::byte> in, std::size_t at, std::size_t bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < bytes; ++i) value |= std::uint64_t(in[at + i]) << (8 * i);
  return value;
}

}  // namespace

void write_datagram_tag(std::span<std::byte> datagram, DatagramTag tag) {
  put(datagram, 0, kMagic, 4);
  put(datagram, 4, datagram.size(), 4);
  put(datagram, 8, tag.session, 8);
  put(datagram, 16, tag.sequence, 8);
  put(datagram, 24, static_cast<std::uint64_t>(tag.sent_at.count()), 8);
}

void DatagramTagReader::feed(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    if (lost_sync_) {
      untagged_ += bytes.size();
      return;
    }
    if (skip_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, bytes.size()));
      skip_ -= n;
      bytes = bytes.subspan(n);
      continue;
    }
    const std::size_t want = kDatagramTagBytes - header_.size();
    const std::size_t n = std::min(want, bytes.size());
    header_.insert(header_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    bytes = bytes.subspan(n);
    if (header_.size() < kDatagramTagBytes) return;
    const std::span<const std::byte> h(header_);
    const auto length = static_cast<std::uint32_t>(get(h, 4, 4));
    if (get(h, 0, 4) != kMagic || length < kDatagramTagBytes) {
      lost_sync_ = true;
      untagged_ += header_.size();
      header_.clear();
      continue;
    }
    on_datagram_(DatagramTag{get(h, 8, 8), get(h, 16, 8), TimePoint(static_cast<std::int64_t>(get(h, 24, 8))),
                             length});
    header_.clear();
    skip_ = length - kDatagramTagBytes;
  }
}

}  // namespace dmm::sim
