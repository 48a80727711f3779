// End-to-end tests of the ns-3 backend: executor, links, stacks, TCP and UDP connections, failures.
// Two nodes joined by two links, as a scenario with two paths would build them. Only simulated time is used.
#include "ns3_stack_fixture.hpp"

namespace dmm::sim {
namespace {

using namespace std::chrono_literals;

TEST(Ns3ExecutorTest, RunsTimersInSimulatedTimeAndForgetsThem) {
  {
    Ns3Executor executor;
    std::vector<std::pair<int, TimePoint>> fired;
    executor.schedule(20ms, [&] { fired.emplace_back(2, executor.now()); });
    const TimerId cancelled = executor.schedule(15ms, [&] { fired.emplace_back(9, executor.now()); });
    executor.schedule(10ms, [&] {
      fired.emplace_back(1, executor.now());
      executor.schedule(0ns, [&] { fired.emplace_back(3, executor.now()); });  // after this callback, same time
    });
    executor.schedule(-5ms, [&] { fired.emplace_back(0, executor.now()); });  // negative = now
    executor.cancel(cancelled);
    executor.cancel(cancelled);  // twice is a no-op
    EXPECT_EQ(executor.pending(), 3u);
    ns3::Simulator::Run();
    const std::vector<std::pair<int, TimePoint>> expected{{0, 0ms}, {1, 10ms}, {3, 10ms}, {2, 20ms}};
    EXPECT_EQ(fired, expected);
    EXPECT_EQ(executor.pending(), 0u);  // fired timers leave no entry behind
    executor.schedule(1s, [] { FAIL() << "must be cancelled by the executor's destructor"; });
  }
  ns3::Simulator::Run();
  ns3::Simulator::Destroy();
}

TEST_F(Ns3StackTest, BulkTransferOverEachLinkIsByteExact) {
  Server& sink1 = serve(*server_stack_, 5001, L4Proto::tcp, false);
  Server& sink2 = serve(*server_stack_, 5002, L4Proto::tcp, false);
  Client& c1 = open(*stack1_, 5001, L4Proto::tcp, kMegabyte);
  Client& c2 = open(*stack2_, 5002, L4Proto::tcp, kMegabyte);
  run_until(30s);
  for (const Server* sink : {&sink1, &sink2}) {
    ASSERT_EQ(sink->sessions.size(), 1u);
    EXPECT_EQ(sink->sessions[0]->received, kMegabyte);
    EXPECT_EQ(sink->sessions[0]->connection->metrics().bytes_received, kMegabyte);
    EXPECT_TRUE(sink->sessions[0]->eof_at.has_value());
    EXPECT_FALSE(sink->sessions[0]->failure.has_value());
  }
  for (const Client* c : {&c1, &c2}) {
    EXPECT_TRUE(c->connected);
    EXPECT_EQ(c->sent, kMegabyte);
    EXPECT_EQ(c->connection->metrics().bytes_sent, kMegabyte);
    // Cubic's slow start overflows the 100-packet queues, so some segments are retransmitted even here.
    EXPECT_GE(c->connection->metrics().segments_sent, kMegabyte / 1448);
    EXPECT_LT(c->connection->metrics().retransmits, c->connection->metrics().segments_sent);
  }
  const double t1 = to_seconds(*sink1.sessions[0]->eof_at);
  const double t2 = to_seconds(*sink2.sessions[0]->eof_at);
  RecordProperty("finish_10mbps_s", std::to_string(t1));
  RecordProperty("finish_100mbps_s", std::to_string(t2));
  // 1 MB at 10 Mbit/s needs at least 0.8 s of serialisation; 100 Mbit/s / 100 ms RTT finishes in slow start.
  EXPECT_GT(t1, 0.8);
  EXPECT_LT(t1, 1.5);
  EXPECT_LT(t2, t1) << "10 Mbit/s: " << t1 << " s, 100 Mbit/s: " << t2 << " s";
}

TEST_F(Ns3StackTest, FasterLinkFinishesSoonerOnALargerTransfer) {
  // 5 MB: long enough that bandwidth, not the RTT of slow start, decides.
  Server& sink1 = serve(*server_stack_, 5001, L4Proto::tcp, false);
  Server& sink2 = serve(*server_stack_, 5002, L4Proto::tcp, false);
  open(*stack1_, 5001, L4Proto::tcp, 5 * kMegabyte);
  open(*stack2_, 5002, L4Proto::tcp, 5 * kMegabyte);
  run_until(60s);
  ASSERT_EQ(sink1.sessions.size(), 1u);
  ASSERT_EQ(sink2.sessions.size(), 1u);
  ASSERT_TRUE(sink1.sessions[0]->eof_at && sink2.sessions[0]->eof_at);
  EXPECT_EQ(sink1.sessions[0]->received, 5 * kMegabyte);
  EXPECT_EQ(sink2.sessions[0]->received, 5 * kMegabyte);
  EXPECT_LT(*sink2.sessions[0]->eof_at, *sink1.sessions[0]->eof_at);
}

TEST_F(Ns3StackTest, RttMetricFollowsThePathDelay) {
  serve(*server_stack_, 7, L4Proto::tcp, /*echo=*/true);
  Client& c1 = open(*stack1_, 7, L4Proto::tcp, 100, /*half_close=*/false);
  Client& c2 = open(*stack2_, 7, L4Proto::tcp, 100, /*half_close=*/false);
  run_until(2s);
  ASSERT_EQ(c1.received, 100u);
  ASSERT_EQ(c2.received, 100u);
  const double rtt1 = to_millis(c1.connection->metrics().rtt);
  const double rtt2 = to_millis(c2.connection->metrics().rtt);
  EXPECT_GE(rtt1, 20.0);
  EXPECT_LT(rtt1, 22.0);
  EXPECT_GE(rtt2, 100.0);
  EXPECT_LT(rtt2, 102.0);
  // The application sees the same: handshake then one request/response is two round trips.
  EXPECT_NEAR(to_millis(*c1.first_reply_at), 2 * 20.0, 2.0);
  EXPECT_NEAR(to_millis(*c2.first_reply_at), 2 * 100.0, 2.0);
}

TEST_F(Ns3StackTest, RttGrowsWithQueueingUnderLoad) {
  serve(*server_stack_, 5001, L4Proto::tcp, false);
  Client& c = open(*stack1_, 5001, L4Proto::tcp, 2 * kMegabyte);
  run_until(1s);  // mid-transfer: the 10 Mbit/s bottleneck queue holds packets
  EXPECT_GT(to_millis(c.connection->metrics().rtt), 25.0);
  EXPECT_LT(to_millis(c.connection->metrics().rtt), 20.0 + 100 * 1500 * 8 / 10e6 * 1000 + 5);  // base + full queue
}

TEST_F(Ns3StackTest, UnresolvableDestinationFailsImmediately) {
  Client client;
  auto connection = stack1_->connect({ipv4(198, 51, 100, 7), 80}, L4Proto::tcp, client);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.error().code, ENETUNREACH);
  auto udp = stack1_->connect({ipv4(198, 51, 100, 7), 80}, L4Proto::udp, client);
  ASSERT_FALSE(udp.ok());
  EXPECT_EQ(udp.error().code, ENETUNREACH);
  run_until(5s);
  EXPECT_FALSE(client.connected);
  EXPECT_EQ(client.failures, 0);  // an immediate error is never also an event
}

TEST_F(Ns3StackTest, LinkDownFailsNewConnectsAtOnceAndUpRestoresThem) {
  Server& sink = serve(*server_stack_, 5001, L4Proto::tcp, false);
  Client& before = open(*stack1_, 5001, L4Proto::tcp, 1000);  // the link was used (routes were looked up)
  run_until(500ms);
  ASSERT_TRUE(before.connected);
  link1_->set_up(false);
  expect_unreachable_now(*stack1_, 5001);
  Client& other_path = open(*stack2_, 5001, L4Proto::tcp, 1000);  // the other link is not affected
  run_until(1s);
  EXPECT_TRUE(other_path.connected);

  link1_->set_up(true);
  Client& again = open(*stack1_, 5001, L4Proto::tcp, 1000);
  run_until(2s);
  EXPECT_TRUE(again.connected);
  EXPECT_EQ(sink.sessions.size(), 3u);
  for (const auto& s : sink.sessions) EXPECT_EQ(s->received, 1000u);
}

TEST_F(Ns3StackTest, LinkDownStallsALiveConnectionUntilItComesBack) {
  Server& sink = serve(*server_stack_, 5001, L4Proto::tcp, false);
  open(*stack1_, 5001, L4Proto::tcp, kMegabyte);
  at(300ms, [&] { link1_->set_up(false); });
  at(1300ms, [&] { link1_->set_up(true); });
  run_until(20s);
  ASSERT_EQ(sink.sessions.size(), 1u);
  EXPECT_EQ(sink.sessions[0]->received, kMegabyte);  // retransmitted after the outage, nothing lost
  EXPECT_GT(to_seconds(*sink.sessions[0]->eof_at), 1.3);
}

TEST_F(Ns3StackTest, FailedStackAbortsLiveConnectionsOnceAndRecovers) {
  Server& sink = serve(*server_stack_, 5001, L4Proto::tcp, false);
  Client& victim = open(*stack1_, 5001, L4Proto::tcp, 10 * kMegabyte);
  Client& bystander = open(*stack2_, 5001, L4Proto::tcp, kMegabyte);
  std::optional<int> connect_while_failed;
  at(500ms, [&] {
    stack1_->set_failed(true);
    stack1_->set_failed(true);  // idempotent: no second on_failed
    Client probe;
    auto c = stack1_->connect({kServer, 5001}, L4Proto::tcp, probe);
    connect_while_failed = c.ok() ? 0 : c.error().code;
  });
  run_until(3s);
  EXPECT_EQ(victim.failures, 1);
  ASSERT_TRUE(victim.failure.has_value());
  EXPECT_EQ(victim.failure->code, ENETDOWN);
  EXPECT_EQ(connect_while_failed, ENETDOWN);
  EXPECT_EQ(stack1_->live_connections(), 0u);
  auto after_failure = victim.connection->send(std::as_bytes(std::span("x", 1)));
  ASSERT_FALSE(after_failure.ok());
  EXPECT_EQ(after_failure.error().code, ENETDOWN);
  // The server's side of the aborted session was reset; the other stack's transfer is untouched.
  ASSERT_EQ(sink.sessions.size(), 2u);
  int reset = 0;
  for (const auto& s : sink.sessions) {
    if (s->failure) {
      EXPECT_EQ(s->failure->code, ECONNRESET);
      EXPECT_LT(s->received, 10 * kMegabyte);
      ++reset;
    } else {
      EXPECT_EQ(s->received, kMegabyte);
    }
  }
  EXPECT_EQ(reset, 1);
  EXPECT_EQ(bystander.failures, 0);

  stack1_->set_failed(false);
  Client& recovered = open(*stack1_, 5001, L4Proto::tcp, 1000);
  run_until(4s);
  EXPECT_TRUE(recovered.connected);
  EXPECT_EQ(victim.failures, 1);
}

TEST_F(Ns3StackTest, FailedServerStackIgnoresNewConnections) {
  serve(*server_stack_, 5001, L4Proto::tcp, false);
  server_stack_->set_failed(true);
  Client& c = open(*stack1_, 5001, L4Proto::tcp, 1000);
  run_until(5s);
  EXPECT_FALSE(c.connected);  // SYNs go unanswered; the client keeps retrying (timeout after ~127 s)
  EXPECT_EQ(c.failures, 0);
}

TEST_F(Ns3StackTest, ConnectToClosedPortIsRefused) {
  Client& c = open(*stack1_, 4444, L4Proto::tcp, 1000);
  run_until(1s);
  EXPECT_FALSE(c.connected);
  ASSERT_TRUE(c.failure.has_value());
  EXPECT_EQ(c.failure->code, ECONNREFUSED);
}

TEST_F(Ns3StackTest, LossCausesRetransmitsButNoByteIsLost) {
  // A queue deeper than the whole transfer: without random loss nothing is ever dropped or retransmitted.
  Ns3LinkParams deep = link_params(3, 10e6, 10ms);
  deep.queue_packets = 2000;
  Ns3Link link3(client_node_, server_node_, deep);
  auto stack3 = client_stack("path3", link3);
  Server& sink = serve(*server_stack_, 5001, L4Proto::tcp, false);
  Client& clean = open(*stack3, 5001, L4Proto::tcp, kMegabyte);
  run_until(10s);
  EXPECT_EQ(clean.connection->metrics().retransmits, 0u);

  link3.set_loss(0.01);
  Client& lossy = open(*stack3, 5001, L4Proto::tcp, kMegabyte);
  run_until(60s);
  ASSERT_EQ(sink.sessions.size(), 2u);
  EXPECT_EQ(sink.sessions[1]->received, kMegabyte);
  EXPECT_TRUE(sink.sessions[1]->eof_at.has_value());
  EXPECT_GT(lossy.connection->metrics().retransmits, 0u);
  RecordProperty("retransmits", std::to_string(lossy.connection->metrics().retransmits));
  clean.connection.reset();
  lossy.connection.reset();
}

TEST_F(Ns3StackTest, RuntimeDelayAndRateChangesApply) {
  serve(*server_stack_, 7, L4Proto::tcp, true);
  link1_->set_delay(30ms);
  EXPECT_EQ(link1_->delay(), 30ms);
  Client& echo = open(*stack1_, 7, L4Proto::tcp, 100, false);
  run_until(1s);
  EXPECT_NEAR(to_millis(echo.connection->metrics().rtt), 60.0, 2.0);

  Server& sink = serve(*server_stack_, 5001, L4Proto::tcp, false);
  link1_->set_delay(10ms);
  link1_->set_rate(BitsPerSecond{1e6});
  open(*stack1_, 5001, L4Proto::tcp, 100'000);
  run_until(10s);
  ASSERT_EQ(sink.sessions.size(), 1u);
  ASSERT_TRUE(sink.sessions[0]->eof_at.has_value());
  EXPECT_EQ(sink.sessions[0]->received, 100'000u);
  EXPECT_GT(to_seconds(*sink.sessions[0]->eof_at) - 1.0, 0.8);  // 100 kB at 1 Mbit/s
}

TEST_F(Ns3StackTest, UdpSessionsPerPeerWithEcho) {
  Server& echo = serve(*server_stack_, 9, L4Proto::udp, /*echo=*/true);
  Client& c1 = open(*stack1_, 9, L4Proto::udp, 10 * 1000, /*half_close=*/false);
  Client& c2 = open(*stack2_, 9, L4Proto::udp, 3000, /*half_close=*/false);
  EXPECT_FALSE(c1.connected);  // UDP "connects" asynchronously too
  run_until(1s);
  EXPECT_TRUE(c1.connected);
  EXPECT_EQ(c1.sent, 10'000u);
  EXPECT_EQ(c1.connection->metrics().segments_sent, 10'000u / kMaxUdpPayload + 1);  // one datagram per send
  ASSERT_EQ(echo.sessions.size(), 2u);  // one per source address and port
  EXPECT_EQ(echo.sessions[0]->received, 10'000u);
  EXPECT_EQ(echo.sessions[1]->received, 3000u);
  EXPECT_EQ(c1.received, 10'000u);
  EXPECT_EQ(c2.received, 3000u);
  std::vector<std::byte> buffer(10);
  auto peer = echo.sessions[0]->connection->receive(buffer);
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.error().code, EAGAIN);
}

TEST_F(Ns3StackTest, FailedStackKillsUdpSessions) {
  Server& echo = serve(*server_stack_, 9, L4Proto::udp, true);
  open(*stack1_, 9, L4Proto::udp, 1000, false);
  run_until(1s);
  ASSERT_EQ(echo.sessions.size(), 1u);
  server_stack_->set_failed(true);
  ASSERT_TRUE(echo.sessions[0]->failure.has_value());
  EXPECT_EQ(echo.sessions[0]->failure->code, ENETDOWN);
  server_stack_->set_failed(false);
  open(*stack1_, 9, L4Proto::udp, 500, false);  // a new source after recovery: a new session
  run_until(2s);
  ASSERT_EQ(echo.sessions.size(), 2u);
  EXPECT_EQ(echo.sessions[1]->received, 500u);
}

TEST_F(Ns3StackTest, TcpVariantIsAppliedPerSocket) {
  auto vegas = client_stack("vegas", *link2_, "vegas");
  Server& sink = serve(*server_stack_, 5001, L4Proto::tcp, false);
  Client& c = open(*vegas, 5001, L4Proto::tcp, 1000);
  Client& d = open(*stack1_, 5001, L4Proto::tcp, 1000);
  auto* vc = dynamic_cast<Ns3Connection*>(c.connection.get());
  auto* dc = dynamic_cast<Ns3Connection*>(d.connection.get());
  ASSERT_NE(vc, nullptr);
  EXPECT_EQ(vc->congestion_control(), "ns3::TcpVegas");
  EXPECT_EQ(dc->congestion_control(), "ns3::TcpCubic");
  run_until(1s);
  ASSERT_EQ(sink.sessions.size(), 2u);
  // The accepted side runs the listener's variant (the server stack's default).
  EXPECT_EQ(dynamic_cast<Ns3Connection&>(*sink.sessions[0]->connection).congestion_control(), "ns3::TcpCubic");
  c.connection.reset();
  d.connection.reset();
  vegas.reset();

  Ns3StackParams bad = stack_params("bad", client_node_);
  bad.tcp_variant = "reno2";
  const auto refused = Ns3Stack::create(std::move(bad));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, EINVAL);
  // Every advertised name exists in this ns-3 build.
  for (const std::string_view name : known_tcp_variants()) {
    auto socket = ns3::Socket::CreateSocket(client_node_, ns3::TcpSocketFactory::GetTypeId());
    auto tcp = ns3::DynamicCast<ns3::TcpSocketBase>(socket);
    EXPECT_TRUE(apply_tcp_variant(*tcp, name)) << name;
    EXPECT_FALSE(congestion_control_name(*tcp).empty()) << name;
  }
}

TEST_F(Ns3StackTest, AnLwipDpdkStackHasLwipsTcpOptionsAndItsSendBufferCapsALongPath) {
  auto lwip = client_stack("user0", *link2_, "newreno", 0ns, "lwip-dpdk");
  auto kernel = client_stack("kernel0", *link2_, "newreno", 0ns, "kernel");
  Server& sink = serve(*server_stack_, 5001, L4Proto::tcp, false);
  // 10 MB over 100 Mbit/s with a 100 ms RTT: a 4 MiB send buffer lets the window outgrow the path (1.25 MB in
  // flight) and its queue; lwIP's 512 KiB lets at most ~42 Mbit/s through, never more than the path takes.
  Client& k = open(*kernel, 5001, L4Proto::tcp, 10 * kMegabyte);
  auto* kc = dynamic_cast<Ns3Connection*>(k.connection.get());
  ASSERT_NE(kc, nullptr);
  auto ktcp = ns3::DynamicCast<ns3::TcpSocketBase>(kc->socket());
  ns3::UintegerValue buffer;
  ktcp->GetAttribute("SndBufSize", buffer);
  EXPECT_EQ(buffer.Get(), 4u << 20);  // a kernel stack keeps the Linux-like defaults
  const TimePoint start_k = now();
  run_until(30s);
  ASSERT_EQ(sink.sessions.size(), 1u);
  ASSERT_TRUE(sink.sessions[0]->eof_at);
  const Duration kernel_took = *sink.sessions[0]->eof_at - start_k;

  Client& l = open(*lwip, 5001, L4Proto::tcp, 10 * kMegabyte);
  auto* lc = dynamic_cast<Ns3Connection*>(l.connection.get());
  ASSERT_NE(lc, nullptr);
  auto tcp = ns3::DynamicCast<ns3::TcpSocketBase>(lc->socket());
  ns3::BooleanValue sack, timestamps;
  ns3::TimeValue min_rto, delayed_ack;
  ns3::UintegerValue initial_window, receive_buffer;
  tcp->GetAttribute("SndBufSize", buffer);
  tcp->GetAttribute("RcvBufSize", receive_buffer);
  tcp->GetAttribute("Sack", sack);
  tcp->GetAttribute("Timestamp", timestamps);
  tcp->GetAttribute("MinRto", min_rto);
  tcp->GetAttribute("DelAckTimeout", delayed_ack);
  tcp->GetAttribute("InitialCwnd", initial_window);
  EXPECT_EQ(buffer.Get(), 512u << 10);
  EXPECT_EQ(receive_buffer.Get(), 2u << 20);
  EXPECT_FALSE(sack.Get());
  EXPECT_FALSE(timestamps.Get());
  EXPECT_EQ(min_rto.Get(), ns3::MilliSeconds(300));
  EXPECT_EQ(delayed_ack.Get(), ns3::MilliSeconds(10));
  EXPECT_EQ(initial_window.Get(), 3u);
  const TimePoint start_l = now();
  run_until(90s);
  ASSERT_EQ(sink.sessions.size(), 2u);
  ASSERT_TRUE(sink.sessions[1]->eof_at);
  EXPECT_EQ(sink.sessions[1]->received, 10 * kMegabyte);
  const Duration lwip_took = *sink.sessions[1]->eof_at - start_l;
  EXPECT_GE(lwip_took, Duration(1900ms)) << "10 MB at <= 512 KiB per 100 ms";
  // The kernel's window outgrows the path and its queue (losses, resends); lwIP's never reaches it.
  EXPECT_GT(k.connection->metrics().retransmits, 0u) << "kernel took " << kernel_took.count() << " ns";
  EXPECT_EQ(l.connection->metrics().retransmits, 0u);
}

TEST_F(Ns3StackTest, ProcessingDelayDelaysSendAndReceive) {
  serve(*server_stack_, 7, L4Proto::tcp, true);
  auto slow = client_stack("slow", *link1_, "cubic", 5ms);
  Client& fast = open(*stack1_, 7, L4Proto::tcp, 100, false);
  Client& delayed = open(*slow, 7, L4Proto::tcp, 100, false);
  run_until(2s);
  ASSERT_EQ(delayed.received, 100u);
  ASSERT_EQ(fast.received, 100u);
  // One send and one receive cross the delay: 10 ms more from connect to echo.
  const double extra = to_millis(*delayed.first_reply_at - *delayed.connected_at) -
                       to_millis(*fast.first_reply_at - *fast.connected_at);
  EXPECT_NEAR(extra, 10.0, 0.5);
  delayed.connection.reset();
}

TEST_F(Ns3StackTest, ClosingInsideCallbacksAndMidTransferIsSafe) {
  Server& sink = serve(*server_stack_, 5001, L4Proto::tcp, false);
  Client& c = open(*stack1_, 5001, L4Proto::tcp, 10 * kMegabyte);
  at(300ms, [&] { c.connection.reset(); });  // destroyed mid-transfer: FIN after the buffered data
  // A client that destroys its own connection from inside a callback.
  struct SelfDestruct final : ConnectionEvents {
    std::unique_ptr<Connection> connection;
    bool done = false;
    void on_connected() override {
      connection.reset();
      done = true;
    }
  } self;
  auto connection = stack2_->connect({kServer, 5001}, L4Proto::tcp, self);
  ASSERT_TRUE(connection.ok());
  self.connection = std::move(connection).value();
  run_until(30s);
  EXPECT_TRUE(self.done);
  ASSERT_EQ(sink.sessions.size(), 2u);
  EXPECT_GT(sink.sessions[0]->received, 0u);
  EXPECT_LT(sink.sessions[0]->received, 10 * kMegabyte);
  EXPECT_TRUE(sink.sessions[0]->eof_at.has_value());
}

TEST_F(Ns3StackTest, ListenerClosedDuringHandshakeResetsLateConnections) {
  serve(*server_stack_, 5001, L4Proto::tcp, false);
  Client& c = open(*stack1_, 5001, L4Proto::tcp, 1000, false);
  // The SYN arrives at 10 ms and forks a half-open socket; the handshake's last ACK arrives at 30 ms.
  at(15ms, [&] { listeners_.clear(); });
  run_until(1s);
  EXPECT_TRUE(c.connected);  // the client completed its side of the handshake...
  ASSERT_TRUE(c.failure.has_value());
  EXPECT_EQ(c.failure->code, ECONNRESET);  // ...and was reset: nobody owned the connection
  EXPECT_TRUE(servers_[0]->sessions.empty());
}

TEST_F(Ns3StackTest, PcapFilesAreWritten) {
  const std::string dir = ::testing::TempDir();
  link1_->enable_pcap(dir, "dmm-link1");
  serve(*server_stack_, 5001, L4Proto::tcp, false);
  open(*stack1_, 5001, L4Proto::tcp, 1000);
  run_until(1s);
  const std::string file = dir + "/dmm-link1-" + std::to_string(client_node_->GetId()) + "-" +
                           std::to_string(link1_->device_a()->GetIfIndex()) + ".pcap";
  EXPECT_TRUE(std::filesystem::exists(file)) << file;
}

// Runs a lossy 1 MB transfer in a fresh simulation; returns (retransmits, finish time).
std::pair<std::uint64_t, TimePoint> lossy_transfer(std::uint32_t run) {
  configure_ns3_defaults();
  ns3::RngSeedManager::SetSeed(7);
  ns3::RngSeedManager::SetRun(run);
  auto a = ns3::CreateObject<ns3::Node>();
  auto b = ns3::CreateObject<ns3::Node>();
  install_internet_stack(ns3::NodeContainer(a, b));
  Ns3Link link(a, b, link_params(3, 20e6, 5ms, 0.02));
  Ns3StackParams client_params = stack_params("c", a);
  client_params.device = link.device_a();
  auto client = Ns3Stack::create(std::move(client_params)).value();
  auto server = Ns3Stack::create(stack_params("s", b)).value();
  Server sink;
  auto listener = server->listen({{}, 80}, L4Proto::tcp, sink).value();
  Client c;
  c.to_send = kMegabyte;
  c.connection = client->connect({from_ns3(link.address_b()), 80}, L4Proto::tcp, c).value();
  run_until(60s);
  std::pair<std::uint64_t, TimePoint> out{c.connection->metrics().retransmits,
                                          sink.sessions.empty() || !sink.sessions[0]->eof_at
                                              ? TimePoint::max()
                                              : *sink.sessions[0]->eof_at};
  c.connection.reset();
  sink.sessions.clear();
  listener.reset();
  ns3::Simulator::Destroy();
  return out;
}

TEST(Ns3DeterminismTest, SameSeedSameLosses) {
  const auto first = lossy_transfer(1);
  const auto second = lossy_transfer(1);
  const auto other = lossy_transfer(2);
  EXPECT_GT(first.first, 0u);
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other);
}

}  // namespace
}  // namespace dmm::sim
