// ByteRing: the buffers between a user-space session's application threads and its stack thread.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "user_session.hpp"

namespace dmm::preload {
namespace {

std::vector<std::byte> bytes(std::size_t n, int first) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(first + static_cast<int>(i));
  return v;
}

TEST(ByteRing, KeepsOrderAcrossTheWrap) {
  ByteRing ring(8);
  EXPECT_EQ(ring.put(bytes(6, 0).data(), 6), 6u);
  std::vector<std::byte> out(4);
  EXPECT_EQ(ring.take(out.data(), 4), 4u);  // head now at 4
  EXPECT_EQ(out, bytes(4, 0));
  EXPECT_EQ(ring.put(bytes(10, 6).data(), 10), 6u);  // only the room: 6 bytes, wrapping
  EXPECT_TRUE(ring.full());
  std::vector<std::byte> all(8);
  EXPECT_EQ(ring.take(all.data(), 8, /*peek=*/true), 8u);
  EXPECT_EQ(ring.size(), 8u);  // peek leaves them
  EXPECT_EQ(ring.take(all.data(), 100), 8u);
  EXPECT_EQ(all, bytes(8, 4));
  EXPECT_TRUE(ring.empty());
}

TEST(ByteRing, ContiguousRunsForZeroCopyHandOff) {
  ByteRing ring(8);
  ring.put(bytes(6, 0).data(), 6);
  std::vector<std::byte> out(5);
  ring.take(out.data(), 5);  // head at 5, one byte stored
  EXPECT_EQ(ring.front().size(), 1u);
  EXPECT_EQ(ring.back().size(), 2u);  // from 6 to the end of storage
  std::span<std::byte> room = ring.back();
  room[0] = std::byte{42};
  room[1] = std::byte{43};
  ring.commit(2);
  EXPECT_EQ(ring.back().size(), 5u);  // wrapped: from 0 up to the head
  EXPECT_EQ(ring.front().size(), 3u);
  ring.drop(3);
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.back().size(), 8u);  // all room, from the (moved) head... to the end of storage
}

}  // namespace
}  // namespace dmm::preload
