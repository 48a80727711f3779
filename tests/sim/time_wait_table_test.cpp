// TimeWaitTable: which segments meet a connection in TIME_WAIT, which ports stay taken, and for how long.
#include "model/time_wait_table.hpp"

#include <gtest/gtest.h>

namespace dmm::sim {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kClient = 0x0a000101, kServer = 0x0a000102;
const int kEth0 = 0, kEth1 = 0;  // two distinct interfaces, by address
const void* const eth0 = &kEth0;
const void* const eth1 = &kEth1;

TimeWaitTable::Connection connection(std::uint16_t local_port, std::uint16_t peer_port = 80) {
  return {kClient, local_port, kServer, peer_port};
}

TEST(TimeWaitTable, HoldsAConnectionUntilItsTimeWaitEnds) {
  TimeWaitTable table;
  EXPECT_TRUE(table.empty());
  table.hold(connection(40000), nullptr, 60s);
  EXPECT_TRUE(table.holds(connection(40000), eth0, 0s));
  EXPECT_TRUE(table.holds(connection(40000), eth0, 60s - 1ns));
  EXPECT_EQ(table.size(60s - 1ns), 1u);
  EXPECT_FALSE(table.holds(connection(40000), eth0, 60s));  // ns-3's timer has fired: the endpoint is gone
  EXPECT_EQ(table.size(60s), 0u);
  EXPECT_TRUE(table.empty());
}

TEST(TimeWaitTable, HoldsOnlyThatConnection) {
  TimeWaitTable table;
  table.hold(connection(40000), nullptr, 60s);
  EXPECT_FALSE(table.holds(connection(40000, 81), eth0, 1s));   // another peer port
  EXPECT_FALSE(table.holds(connection(40001), eth0, 1s));       // another local port
  EXPECT_FALSE(table.holds({kServer, 40000, kClient, 80}, eth0, 1s));  // the other direction
}

TEST(TimeWaitTable, AConnectionBoundToAnInterfaceSeesOnlySegmentsArrivingThere) {
  TimeWaitTable table;
  table.hold(connection(40000), eth0, 60s);
  EXPECT_TRUE(table.holds(connection(40000), eth0, 1s));
  EXPECT_FALSE(table.holds(connection(40000), eth1, 1s));
}

TEST(TimeWaitTable, APortStaysTakenUntilTheLastConnectionOnItEnds) {
  TimeWaitTable table;
  table.hold(connection(40000, 80), nullptr, 10s);
  table.hold({kServer, 40000, kClient, 443}, nullptr, 20s);  // the same port on another address
  table.hold(connection(40001), nullptr, 5s);
  EXPECT_EQ(table.ports_held(1s), 2u);
  EXPECT_TRUE(table.port_taken(40000, 15s));
  EXPECT_FALSE(table.port_taken(40001, 15s));
  EXPECT_FALSE(table.port_taken(40002, 1s));
  EXPECT_FALSE(table.port_taken(40000, 20s));
  EXPECT_EQ(table.ports_held(20s), 0u);
}

TEST(TimeWaitTable, OnlyPortsOfTheEphemeralRangeCountAsHeldInIt) {
  TimeWaitTable table(40000, 40001);
  table.hold(connection(40000), nullptr, 10s);
  table.hold({kServer, 80, kClient, 40000}, nullptr, 10s);  // a server's port: not an ephemeral one
  EXPECT_EQ(table.ports_held(1s), 2u);
  EXPECT_EQ(table.ports_held_in_range(1s), 1u);
  table.count_ports_between(80, 80);
  EXPECT_EQ(table.ports_held_in_range(1s), 1u);
  EXPECT_EQ(table.ports_held_in_range(10s), 0u);
}

TEST(TimeWaitTable, HoldingAConnectionAgainRestartsItsTimeWait) {
  TimeWaitTable table;
  table.hold(connection(40000), nullptr, 10s);
  table.hold(connection(40000), nullptr, 30s);
  EXPECT_TRUE(table.holds(connection(40000), eth0, 20s));  // the first expiry does not end the second
  EXPECT_TRUE(table.port_taken(40000, 20s));
  EXPECT_EQ(table.size(20s), 1u);
  EXPECT_FALSE(table.holds(connection(40000), eth0, 30s));
  EXPECT_FALSE(table.port_taken(40000, 30s));
}

}  // namespace
}  // namespace dmm::sim
