// The tags UDP workloads put in their datagrams, and what the receiving side makes of them (model/datagram_tag,
// model/delivery_ledger): delivered bytes, loss, one-way delay, jitter, and when a UDP session counts as completed.
#include <gtest/gtest.h>

#include <array>

#include "run/datagram_tag.hpp"
#include "run/delivery_ledger.hpp"

namespace dmm::sim {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> datagram(std::uint64_t session, std::uint64_t seq, TimePoint sent, std::size_t size) {
  std::vector<std::byte> d(size, std::byte{0});
  write_datagram_tag(d, {session, seq, sent});
  return d;
}

TEST(DatagramTag, ReadsConcatenatedAndSplitDatagrams) {
  std::vector<DatagramTag> seen;
  DatagramTagReader reader([&](const DatagramTag& t) { seen.push_back(t); });
  std::vector<std::byte> stream;
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto d = datagram(7, i, TimePoint(1ms * i), 100 + i);
    stream.insert(stream.end(), d.begin(), d.end());
  }
  // One byte at a time: tags split across reads are put back together.
  for (std::byte b : stream) reader.feed({&b, 1});
  ASSERT_EQ(seen.size(), 3u);
  for (std::uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].session, 7u);
    EXPECT_EQ(seen[i].sequence, i);
    EXPECT_EQ(seen[i].sent_at, TimePoint(1ms * i));
    EXPECT_EQ(seen[i].length, 100 + i);
  }
  EXPECT_EQ(reader.untagged_bytes(), 0u);
}

TEST(DatagramTag, ForeignBytesAreCountedNotParsed) {
  int seen = 0;
  DatagramTagReader reader([&](const DatagramTag&) { ++seen; });
  std::array<std::byte, 64> zeros{};
  reader.feed(zeros);
  EXPECT_EQ(seen, 0);
  EXPECT_EQ(reader.untagged_bytes(), 64u);
}

TEST(DeliveryLedger, MeasuresWhatArrived) {
  DeliveryLedger ledger;
  // Four datagrams sent 10 ms apart; the second is lost; one-way delays 20, 30, 20 ms.
  ledger.arrived({1, 0, TimePoint(0ms), 1000}, TimePoint(20ms));
  ledger.arrived({1, 2, TimePoint(20ms), 1000}, TimePoint(50ms));
  ledger.arrived({1, 3, TimePoint(30ms), 500}, TimePoint(50ms));
  std::vector<scenario::SessionRecord> sessions(2);
  sessions[0].session = 1;
  sessions[0].proto = L4Proto::udp;
  sessions[0].datagrams_sent = 4;
  sessions[0].bytes_sent = 3500;
  sessions[0].completed = true;
  sessions[1].session = 2;  // TCP: left alone
  sessions[1].bytes_delivered = 99;
  sessions[1].completed = true;
  settle_udp_sessions(sessions, ledger);
  const auto& s = sessions[0];
  EXPECT_EQ(s.bytes_delivered, 2500u);
  ASSERT_TRUE(s.loss);
  EXPECT_DOUBLE_EQ(*s.loss, 0.25);
  ASSERT_TRUE(s.owd);
  EXPECT_NEAR(to_millis(*s.owd), (20.0 + 30.0 + 20.0) / 3, 1e-6);
  // RFC 3550: J1 = 10/16 ms; J2 = J1 + (10 - J1)/16.
  ASSERT_TRUE(s.jitter);
  const double j1 = 10.0 / 16, j2 = j1 + (10.0 - j1) / 16;
  EXPECT_NEAR(to_millis(*s.jitter), j2, 1e-6);
  EXPECT_TRUE(s.completed);
  EXPECT_EQ(sessions[1].bytes_delivered, 99u);
  EXPECT_FALSE(sessions[1].loss);
}

TEST(DeliveryLedger, AUdpSessionNothingOfWhichArrivedIsNotCompleted) {
  DeliveryLedger ledger;
  std::vector<scenario::SessionRecord> sessions(2);
  sessions[0].session = 1;
  sessions[0].proto = L4Proto::udp;
  sessions[0].datagrams_sent = 50;
  sessions[0].completed = true;  // its sender ran its whole on period
  sessions[1] = sessions[0];
  sessions[1].session = 2;
  sessions[1].completed = false;
  sessions[1].error = scenario::kUnfinished;
  settle_udp_sessions(sessions, ledger);
  EXPECT_FALSE(sessions[0].completed);
  EXPECT_EQ(sessions[0].error, kNoDatagramArrived);
  EXPECT_EQ(sessions[0].bytes_delivered, 0u);
  EXPECT_DOUBLE_EQ(*sessions[0].loss, 1.0);
  EXPECT_FALSE(sessions[0].owd);
  EXPECT_EQ(sessions[1].error, scenario::kUnfinished);  // still unfinished, not failed
}

}  // namespace
}  // namespace dmm::sim
