// TIME_WAIT in the simulated stacks (TimeWaitTcpL4Protocol): a closed connection keeps its port and swallows its
// late segments for the stack's time_wait, then frees both; ephemeral ports skip those held and those in use, and
// a node out of ports fails connect() as Linux does.
#include "ns3_stack_fixture.hpp"
#include "ns3/ipv4-header.h"
#include "ns3/ipv4-interface.h"
#include "ns3/ipv4-l3-protocol.h"
#include "ns3/packet.h"
#include "ns3/tcp-header.h"

namespace dmm::sim {
namespace {

using namespace std::chrono_literals;

class Ns3TimeWaitTest : public Ns3StackTest {
protected:
  TimeWaitTcpL4Protocol& client_tcp() { return *time_wait_tcp(client_node_); }
  TimeWaitTcpL4Protocol& server_tcp() { return *time_wait_tcp(server_node_); }

  // A stack on link 1 whose connections stay `time_wait` in TIME_WAIT.
  std::unique_ptr<Ns3Stack> stack_with_time_wait(Duration time_wait) {
    return client_stack("tw", *link1_, "cubic", 0ns, "ns3", time_wait);
  }

  // One request of 1000 bytes; the client half-closes after it and the server closes at `server_closes_at`, so
  // the client closed first and holds the TIME_WAIT.
  Client& one_session(Ns3Stack& stack, Server& server, Duration server_closes_at) {
    Client& client = open(stack, 80, L4Proto::tcp, 1000);
    at(server_closes_at, [&server] {
      for (auto& s : server.sessions) s->connection->close();
    });
    return client;
  }

  // Hands a segment "from the server" for client port `to_port` straight to the client's TCP.
  ns3::IpL4Protocol::RxStatus segment_to_client(std::uint16_t to_port, std::uint8_t flags) {
    ns3::TcpHeader tcp;
    tcp.SetSourcePort(80);
    tcp.SetDestinationPort(to_port);
    tcp.SetFlags(flags);
    auto packet = ns3::Create<ns3::Packet>();
    packet->AddHeader(tcp);
    ns3::Ipv4Header ip;
    ip.SetSource(link1_->address_b());
    ip.SetDestination(link1_->address_a());
    ip.SetProtocol(6);
    auto ipv4 = client_node_->GetObject<ns3::Ipv4L3Protocol>();
    auto interface = ipv4->GetInterface(static_cast<std::uint32_t>(ipv4->GetInterfaceForDevice(link1_->device_a())));
    return client_tcp().Receive(packet, ip, interface);
  }

  std::uint64_t client_frames_sent() const { return frames_sent_; }
  void count_client_frames() {
    link1_->device_a()->TraceConnectWithoutContext(
        "MacTx",
        ns3::Callback<void, ns3::Ptr<const ns3::Packet>>([this](ns3::Ptr<const ns3::Packet>) { ++frames_sent_; }));
  }

  std::uint64_t frames_sent_ = 0;
};

TEST_F(Ns3TimeWaitTest, TheConnectionClosedFirstStaysInTimeWaitForLinuxsSixtySeconds) {
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, false);
  Client& client = one_session(*stack1_, server, 1s);
  run_until(2s);
  ASSERT_TRUE(client.peer_closed);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 1u);
  EXPECT_EQ(server_tcp().connections_in_time_wait(), 0u);  // the server closed second: LAST_ACK, then gone
  run_until(61s);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 1u);  // entered just after 1 s
  run_until(62s);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 0u);
}

TEST_F(Ns3TimeWaitTest, TheTimeWaitLengthIsTheStacksSetting) {
  auto stack = stack_with_time_wait(5s);
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, false);
  one_session(*stack, server, 1s);
  run_until(2s);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 1u);
  run_until(7s);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 0u);
}

TEST_F(Ns3TimeWaitTest, AnLwipDpdkStackKeepsLwipsTimeWaitOfTwoMinutes) {
  auto lwip = client_stack("lwip", *link1_, "newreno", 0ns, "lwip-dpdk");
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, false);
  one_session(*lwip, server, 1s);
  run_until(62s);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 1u);  // a kernel stack's would have ended at ~61 s
  run_until(121s);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 1u);
  run_until(122s);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 0u);
}

TEST_F(Ns3TimeWaitTest, AnAcceptedConnectionTheServerClosesFirstIsHeldOnTheServer) {
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, false);
  Client& client = open(*stack1_, 80, L4Proto::tcp, 1000, /*half_close=*/false);
  at(1s, [&server] { server.sessions.at(0)->connection->close(); });
  at(1500ms, [&client] { client.connection->close(); });
  run_until(3s);
  EXPECT_EQ(server_tcp().connections_in_time_wait(), 1u);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 0u);
}

TEST_F(Ns3TimeWaitTest, ASegmentOfAConnectionInTimeWaitIsSwallowedAndAnyOtherReset) {
  client_tcp().set_ephemeral_ports(40000, 40009);  // the session gets port 40000
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, false);
  one_session(*stack1_, server, 1s);
  run_until(2s);
  ASSERT_EQ(client_tcp().connections_in_time_wait(), 1u);
  count_client_frames();
  // The server's FIN again (its LAST_ACK retransmission): ns-3's TIME_WAIT does nothing with it.
  EXPECT_EQ(segment_to_client(40000, ns3::TcpHeader::FIN | ns3::TcpHeader::ACK), ns3::IpL4Protocol::RX_OK);
  run_until(2100ms);
  EXPECT_EQ(client_frames_sent(), 0u);
  // The same segment for a port nobody has: no endpoint, so ns-3 answers with a RST.
  EXPECT_EQ(segment_to_client(40001, ns3::TcpHeader::FIN | ns3::TcpHeader::ACK), ns3::IpL4Protocol::RX_ENDPOINT_CLOSED);
  run_until(2200ms);
  EXPECT_EQ(client_frames_sent(), 1u);
}

TEST_F(Ns3TimeWaitTest, EphemeralPortsSkipPortsInUseAndInTimeWaitAndRunOutAsOnLinux) {
  client_tcp().set_ephemeral_ports(40000, 40001);  // two ports
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, false);
  Client& live = open(*stack1_, 80, L4Proto::tcp, 1000, /*half_close=*/false);  // holds its port throughout
  at(500ms, [&] { open(*stack1_, 80, L4Proto::tcp, 1000); });                 // the other port, then TIME_WAIT
  at(1s, [&server] { server.sessions.at(1)->connection->close(); });
  run_until(2s);
  ASSERT_TRUE(live.connected);
  ASSERT_EQ(client_tcp().connections_in_time_wait(), 1u);
  // Both ports taken (one live, one in TIME_WAIT): a third connection fails at once, naming why. Reusing the live
  // port would make two endpoints with the same addresses, which ns-3 aborts on at the next segment.
  Client refused;
  auto none = stack1_->connect({kServer, 80}, L4Proto::tcp, refused);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, EADDRNOTAVAIL);
  EXPECT_NE(none.error().message.find("no free local port (1 connections in TIME_WAIT)"), std::string::npos)
      << none.error().message;
  // Once the TIME_WAIT is over, its port serves a new connection, and the live one still works.
  run_until(63s);
  Client& later = open(*stack1_, 80, L4Proto::tcp, 1000);
  live.to_send = 2000;
  live.pump();
  run_until(65s);
  EXPECT_TRUE(later.connected);
  EXPECT_EQ(server.sessions.at(2)->received, 1000u);
  EXPECT_EQ(server.sessions.at(0)->received, 2000u);
}

TEST_F(Ns3TimeWaitTest, AConnectionReusingTheAddressesOfAnEndedOneGetsItsOwnSegments) {
  // One port and a short TIME_WAIT: the second connection has exactly the first one's addresses and ports, and
  // the index entry of the first (whose socket is closed) must not take its segments.
  client_tcp().set_ephemeral_ports(40000, 40000);
  auto stack = stack_with_time_wait(1s);
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, false);
  one_session(*stack, server, 1s);
  run_until(3s);
  ASSERT_EQ(client_tcp().connections_in_time_wait(), 0u);
  Client& second = open(*stack, 80, L4Proto::tcp, 5000, /*half_close=*/false);
  run_until(4s);
  ASSERT_TRUE(second.connected);
  ASSERT_EQ(server.sessions.size(), 2u);
  EXPECT_EQ(server.sessions[1]->received, 5000u);
}

TEST_F(Ns3TimeWaitTest, ClosedSocketsAreForgottenSoNodesDoNotHoldEverySessionsSocket) {
  // Ten rounds of 100 sessions: at most 100 live at a time (two entries each: port and connection). A node must
  // not keep the sockets of all 1,000 alive (600 s of a 200-client site once held 964 MB that way).
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, false);
  for (int round = 0; round < 10; ++round) {
    at(std::chrono::seconds(round), [this] {
      for (int i = 0; i < 100; ++i) open(*stack1_, 80, L4Proto::tcp, 1000);
    });
    at(std::chrono::seconds(round) + 500ms, [&server] {
      for (auto& s : server.sessions) s->connection->close();
    });
  }
  run_until(11s);
  ASSERT_EQ(server.sessions.size(), 1000u);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 1000u);
  EXPECT_LE(client_tcp().sockets_remembered(), 2u * 200u + 64u);
  EXPECT_LE(server_tcp().sockets_remembered(), 2u * 200u + 64u + 1u);  // + the listener
}

TEST_F(Ns3TimeWaitTest, AConnectionClosedWithUnreadDataResetsAndFreesItsPortAsInNs3) {
  // ns-3 answers Close() with unread bytes by a RST that frees the endpoint at once, in TIME_WAIT too: such a
  // connection keeps ns-3's own TIME_WAIT (a taken-over one has no endpoint left to reset).
  client_tcp().set_ephemeral_ports(40000, 40000);
  Server& server = serve(*server_stack_, 80, L4Proto::tcp, /*echo=*/true);
  Client& client = open(*stack1_, 80, L4Proto::tcp, 1000);  // half-closes after its 1000 bytes
  client.reads = false;
  at(1s, [&server] { server.sessions.at(0)->connection->close(); });
  run_until(2s);
  ASSERT_TRUE(client.peer_closed);
  EXPECT_EQ(client_tcp().connections_in_time_wait(), 0u);  // in ns-3's TIME_WAIT, not the table
  count_client_frames();
  client.connection->close();
  run_until(2100ms);
  EXPECT_EQ(client_frames_sent(), 1u);  // the RST
  Client& next = open(*stack1_, 80, L4Proto::tcp, 1000);  // the one port is free again
  run_until(3s);
  EXPECT_TRUE(next.connected);
}

}  // namespace
}  // namespace dmm::sim
