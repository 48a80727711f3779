// The lwip-dpdk stack kind through the core's Stack/Connection API, against real kernel peers in a namespace:
// TCP both ways (50 MB byte-exact), UDP request/response, two instances and a kernel session on one loop, and
// the faults: refused, reset, no route, link down mid-transfer, a bad vdev next to a working instance.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/lwip_dpdk/lwip_dpdk_stack_kind.hpp"
#include "echo_peers.hpp"
#include "lwip_lab.hpp"

namespace dmm::test {
namespace {

using namespace std::chrono_literals;
constexpr Duration kDeadline = 60s;  // only a hang reaches it

class LwipDpdkStack : public ::testing::Test {
protected:
  void SetUp() override { lab_ = std::make_unique<LwipLab>(); }
  // Stacks before the lab (their executor): members are destroyed in reverse order of declaration.
  std::unique_ptr<LwipLab> lab_;
};

TEST_F(LwipDpdkStack, FiftyMegabytesToAKernelServerAndBackByteExact) {
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EXPECT_EQ((*user)->info().kind, "lwip-dpdk");
  auto server_stack = lab_->server_stack();
  EchoServer server;
  auto listener = server_stack->listen(endpoint("10.77.0.1", 7001), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;

  EchoClient client(make_payload(50 * 1024 * 1024));
  auto connection = (*user)->connect(endpoint("10.77.0.1", 7001), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.attach(std::move(*connection));
  ASSERT_TRUE(lab_->executor().run_until([&] { return client.done(); }, kDeadline));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_EQ(client.received.size(), client.payload().size());
  EXPECT_TRUE(client.received == client.payload());  // every byte, in order
  const ConnectionMetrics m = client.connection().metrics();
  EXPECT_EQ(m.bytes_sent, client.payload().size());
  EXPECT_EQ(m.bytes_acked, client.payload().size());
  EXPECT_EQ(m.bytes_received, client.payload().size());
  EXPECT_GT(m.rtt, Duration::zero());  // the handshake's
}

TEST_F(LwipDpdkStack, UnsentBytesAreTheSendersBacklog) {
  // Issue 12, item 4: nRD measures capacity only from backlogged senders; lwIP says what waits (snd_lbb - snd_nxt).
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  auto server_stack = lab_->server_stack();
  NonReadingServer server;
  auto listener = server_stack->listen(endpoint("10.77.0.1", 7005), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  EventRecorder events;
  auto connection = (*user)->connect(endpoint("10.77.0.1", 7005), L4Proto::tcp, events);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  ASSERT_TRUE(lab_->executor().run_until([&] { return events.connected == 1; }, kDeadline));
  Connection& c = **connection;
  EXPECT_EQ(c.metrics().bytes_unsent, 0u);
  const auto chunk = make_payload(64u << 10);
  ASSERT_TRUE(lab_->executor().run_until([&] {
    auto n = c.send(chunk);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return c.metrics().bytes_unsent > 0;
  }, kDeadline));
  const ConnectionMetrics m = c.metrics();
  EXPECT_LE(m.bytes_unsent, m.bytes_sent - m.bytes_acked);
}

TEST_F(LwipDpdkStack, DpdkLeavesNoRuntimeDirectoryBehind) {
  // Every process that starts an lwip-dpdk instance initialises DPDK's EAL, which makes /var/run/dpdk/dmm-<pid>;
  // a program killed or ending with _exit never ran EAL's cleanup, and hundreds piled up. Gone once EAL is up.
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EXPECT_FALSE(std::filesystem::exists("/var/run/dpdk/dmm-" + std::to_string(::getpid())));
}

TEST_F(LwipDpdkStack, AKernelClientReachesAnLwipListener) {
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EchoServer server;
  auto listener = (*user)->listen(endpoint("0.0.0.0", 7002), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  auto kernel_side = lab_->server_stack();
  EchoClient client(make_payload(1024 * 1024));
  auto connection = kernel_side->connect(endpoint("10.77.0.2", 7002), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.attach(std::move(*connection));
  ASSERT_TRUE(lab_->executor().run_until([&] { return client.done(); }, kDeadline));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.received == client.payload());
  ASSERT_EQ(server.sessions.size(), 1u);
}

// A UDP echo on the kernel side, request/response from lwIP.
struct UdpExchange final : ConnectionEvents {
  void on_connected() override {
    for (const char* m : {"one", "two", "three"}) (void)connection->send(std::as_bytes(std::span(m, std::strlen(m))));
  }
  void on_readable() override {
    std::byte buffer[2048];
    for (;;) {
      auto n = connection->receive(buffer);
      if (!n || *n == 0) return;
      replies.emplace_back(reinterpret_cast<const char*>(buffer), *n);
    }
  }
  void on_failed(const Error& e) override { error = e; }
  std::unique_ptr<Connection> connection;
  std::vector<std::string> replies;
  std::optional<Error> error;
};

TEST_F(LwipDpdkStack, UdpRequestResponseWithAKernelPeer) {
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  // A plain kernel UDP socket in the server namespace that answers each datagram with its own bytes, upper-cased.
  auto udp = lab_->server_socket(SOCK_DGRAM, 7003);
  ASSERT_TRUE(udp.ok()) << udp.error().message;
  ASSERT_TRUE(lab_->executor().watch(udp->get(), EPOLLIN, [&](std::uint32_t) {
    char buffer[2048];
    sockaddr_in from{};
    socklen_t length = sizeof from;
    ssize_t n;
    while ((n = ::recvfrom(udp->get(), buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length)) > 0) {
      for (ssize_t i = 0; i < n; ++i) buffer[i] = static_cast<char>(std::toupper(buffer[i]));
      ::sendto(udp->get(), buffer, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), length);
    }
  }).ok());
  UdpExchange exchange;
  auto connection = (*user)->connect(endpoint("10.77.0.1", 7003), L4Proto::udp, exchange);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  exchange.connection = std::move(*connection);
  ASSERT_TRUE(lab_->executor().run_until([&] { return exchange.replies.size() == 3 || exchange.error; }, kDeadline));
  EXPECT_EQ(exchange.replies, (std::vector<std::string>{"ONE", "TWO", "THREE"}));  // one reply per datagram
  lab_->executor().unwatch(udp->get());
}

TEST_F(LwipDpdkStack, TwoInstancesAndAKernelSessionShareOneLoop) {
  const std::string dev0 = lab_->add_path(0);
  const std::string dev1 = lab_->add_path(1);
  auto user0 = lab_->lwip_stack(0, dev0);
  auto user1 = lab_->lwip_stack(1, dev1);
  ASSERT_TRUE(user0.ok()) << user0.error().message;
  ASSERT_TRUE(user1.ok()) << user1.error().message;
  auto server_stack = lab_->server_stack();
  EchoServer server;
  auto listener = server_stack->listen(endpoint("0.0.0.0", 7004), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  // The kernel client lives in the server namespace too and talks to the same listener over loopback.
  auto kernel_client_stack = lab_->server_stack();

  EchoClient a(make_payload(4 * 1024 * 1024)), b(make_payload(3 * 1024 * 1024)), k(make_payload(2 * 1024 * 1024));
  auto ca = (*user0)->connect(endpoint("10.77.0.1", 7004), L4Proto::tcp, a);
  auto cb = (*user1)->connect(endpoint("10.77.1.1", 7004), L4Proto::tcp, b);
  auto ck = kernel_client_stack->connect(endpoint("127.0.0.1", 7004), L4Proto::tcp, k);
  ASSERT_TRUE(ca.ok() && cb.ok() && ck.ok());
  a.attach(std::move(*ca));
  b.attach(std::move(*cb));
  k.attach(std::move(*ck));
  ASSERT_TRUE(lab_->executor().run_until([&] { return a.done() && b.done() && k.done(); }, kDeadline));
  for (EchoClient* c : {&a, &b, &k}) {
    ASSERT_FALSE(c->error) << c->error->message;
    EXPECT_TRUE(c->received == c->payload());
  }
  // Each lwIP instance can only have used its own path: neither has a gateway, and the server addresses are on
  // different subnets.
  EXPECT_EQ(server.sessions.size(), 3u);
}

TEST_F(LwipDpdkStack, NoRouteIsAnImmediateError) {
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EventRecorder events;
  auto connection = (*user)->connect(endpoint("10.99.0.1", 80), L4Proto::tcp, events);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.error().code, ENETUNREACH);
  // Without address6 an IPv6 destination has no path on the instance either (a ranked list moves on).
  auto v6 = (*user)->connect(endpoint("fd00::1", 80), L4Proto::tcp, events);
  ASSERT_FALSE(v6.ok());
  EXPECT_EQ(v6.error().code, ENETUNREACH);
  EXPECT_NE(v6.error().message.find("address6"), std::string::npos) << v6.error().message;
}

TEST_F(LwipDpdkStack, WhileItsLinkIsDownConnectsAreRefusedAtOnce) {
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  ASSERT_TRUE(lwip_dpdk::set_lwip_dpdk_link(**user, false).ok());
  EventRecorder events;
  auto refused = (*user)->connect(endpoint("10.77.0.1", 9), L4Proto::tcp, events);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ENETUNREACH) << refused.error().message;
  // Up again: the peer answers (a closed port, so a refusal that comes from the peer).
  ASSERT_TRUE(lwip_dpdk::set_lwip_dpdk_link(**user, true).ok());
  auto connection = (*user)->connect(endpoint("10.77.0.1", 9), L4Proto::tcp, events);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  ASSERT_TRUE(lab_->executor().run_until([&] { return events.failed > 0; }, kDeadline));
  EXPECT_EQ(events.error->code, ECONNREFUSED) << events.error->message;
  auto server = lab_->server_stack();
  auto not_lwip = lwip_dpdk::set_lwip_dpdk_link(*server, false);
  ASSERT_FALSE(not_lwip.ok());
  EXPECT_EQ(not_lwip.error().code, ENOTSUP);
}

TEST_F(LwipDpdkStack, AClosedPortIsRefused) {
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EventRecorder events;
  auto connection = (*user)->connect(endpoint("10.77.0.1", 9), L4Proto::tcp, events);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  ASSERT_TRUE(lab_->executor().run_until([&] { return events.failed > 0; }, kDeadline));
  EXPECT_EQ(events.error->code, ECONNREFUSED) << events.error->message;
  EXPECT_EQ(events.connected, 0);
}

TEST_F(LwipDpdkStack, APeerResetIsReportedAsConnectionReset) {
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(user.ok()) << user.error().message;
  // A raw kernel listener that resets every connection it accepts (SO_LINGER 0, then close).
  auto listening = lab_->server_socket(SOCK_STREAM, 7005);
  ASSERT_TRUE(listening.ok()) << listening.error().message;
  ASSERT_EQ(::listen(listening->get(), 4), 0);
  ASSERT_TRUE(lab_->executor().watch(listening->get(), EPOLLIN, [&](std::uint32_t) {
    const int fd = ::accept(listening->get(), nullptr, nullptr);
    if (fd < 0) return;
    const linger hard{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(fd);
  }).ok());

  EventRecorder events;
  auto connection = (*user)->connect(endpoint("10.77.0.1", 7005), L4Proto::tcp, events);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  ASSERT_TRUE(lab_->executor().run_until([&] { return events.failed > 0; }, kDeadline));
  EXPECT_EQ(events.error->code, ECONNRESET) << events.error->message;
  std::byte buffer[16];
  auto read = (*connection)->receive(buffer);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ECONNRESET);
  lab_->executor().unwatch(listening->get());
}

TEST_F(LwipDpdkStack, TheLinkGoingDownMidTransferFailsTheConnectionWithinTheUserTimeout) {
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev, {{"user_timeout", "2s"}});
  ASSERT_TRUE(user.ok()) << user.error().message;
  auto server_stack = lab_->server_stack();
  EchoServer server;
  auto listener = server_stack->listen(endpoint("10.77.0.1", 7006), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  EchoClient client(make_payload(512 * 1024 * 1024));  // far more than goes through before the link is cut
  auto connection = (*user)->connect(endpoint("10.77.0.1", 7006), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.attach(std::move(*connection));
  ASSERT_TRUE(lab_->executor().run_until([&] { return client.received.size() > 1024 * 1024 || client.done(); },
                                         kDeadline));
  ASSERT_FALSE(client.done());
  ASSERT_TRUE(run_command("ip -n " + lab_->srv() + " link set dmv0b down").ok());
  const TimePoint cut = lab_->executor().now();
  ASSERT_TRUE(lab_->executor().run_until([&] { return client.done(); }, kDeadline));
  ASSERT_TRUE(client.error.has_value());
  EXPECT_EQ(client.error->code, ETIMEDOUT) << client.error->message;
  EXPECT_LT(lab_->executor().now() - cut, Duration(10s));  // 2 s of silence, checked every 0.5 s
}

TEST_F(LwipDpdkStack, TheUserTimeoutCountsFromTheWriteNotFromIdleTime) {
  // The user timeout measures silence while data waits for an acknowledgement. A connection idle for longer than
  // the timeout writes into a dead path: it must fail a full timeout after the write (1 s, seen by lwIP's 0.5 s
  // polls: 1.0-1.5 s), not at the first poll after it (0-0.5 s), as it would if idleness counted.
  const std::string dev = lab_->add_path(0);
  auto user = lab_->lwip_stack(0, dev, {{"user_timeout", "1s"}});
  ASSERT_TRUE(user.ok()) << user.error().message;
  auto server_stack = lab_->server_stack();
  EchoServer server;
  auto listener = server_stack->listen(endpoint("10.77.0.1", 7008), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok());
  EventRecorder events;
  auto connection = (*user)->connect(endpoint("10.77.0.1", 7008), L4Proto::tcp, events);
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE(lab_->executor().run_until([&] { return events.connected > 0; }, kDeadline));
  lab_->executor().run_until([] { return false; }, std::chrono::milliseconds(2500));  // idle, past the timeout
  ASSERT_EQ(events.failed, 0);
  ASSERT_TRUE(run_command("ip -n " + lab_->srv() + " link set dmv0b down").ok());
  const char ping[] = "ping";
  const TimePoint written = lab_->executor().now();
  auto sent = (*connection)->send(std::as_bytes(std::span(ping, 4)));
  ASSERT_TRUE(sent.ok());
  ASSERT_TRUE(lab_->executor().run_until([&] { return events.failed > 0; }, kDeadline));
  EXPECT_EQ(events.error->code, ETIMEDOUT);
  // A wide margin on both sides of the 0.5 s poll step: 0.8 s separates "counted from the write" (>= 1.0 s)
  // from "counted from the last acknowledgement" (<= 0.5 s).
  EXPECT_GE(lab_->executor().now() - written, Duration(std::chrono::milliseconds(800)));
}

TEST_F(LwipDpdkStack, ABadVdevIsNamedAndOtherInstancesKeepWorking) {
  const std::string dev = lab_->add_path(0);
  auto good = lab_->lwip_stack(0, dev);
  ASSERT_TRUE(good.ok()) << good.error().message;
  auto bad = lab_->registry().create(
      StackConfig{"broken", "lwip-dpdk",
                  {{"vdev", "net_af_packet7,iface=no-such-if"}, {"address", "10.77.7.2/24"}, {"netns", lab_->lw()}}},
      lab_->world());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("stack 'broken'"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("net_af_packet7,iface=no-such-if"), std::string::npos) << bad.error().message;
  auto nonsense = lab_->registry().create(
      StackConfig{"typo", "lwip-dpdk", {{"vdev", "net_nosuchdriver0"}, {"address", "10.77.8.2/24"}}}, lab_->world());
  ASSERT_FALSE(nonsense.ok());
  EXPECT_NE(nonsense.error().message.find("net_nosuchdriver0"), std::string::npos) << nonsense.error().message;

  auto server_stack = lab_->server_stack();
  EchoServer server;
  auto listener = server_stack->listen(endpoint("10.77.0.1", 7007), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok());
  EchoClient client(make_payload(256 * 1024));
  auto connection = (*good)->connect(endpoint("10.77.0.1", 7007), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.attach(std::move(*connection));
  ASSERT_TRUE(lab_->executor().run_until([&] { return client.done(); }, kDeadline));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.received == client.payload());
}

TEST(LwipDpdkConfig, ParametersAreCheckedAndNamed) {
  using dmm::lwip_dpdk::parse_lwip_dpdk_config;
  auto ok = parse_lwip_dpdk_config(StackConfig{"u", "lwip-dpdk",
                                               {{"vdev", "net_null0"}, {"address", "10.1.2.3/16"},
                                                {"gateway", "10.1.0.1"}, {"user_timeout", "5s"}}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->prefix_length, 16);
  EXPECT_EQ(ok->user_timeout, Duration(5s));
  auto expect_error = [](std::map<std::string, std::string> params, const std::string& needle) {
    auto r = dmm::lwip_dpdk::parse_lwip_dpdk_config(StackConfig{"u", "lwip-dpdk", std::move(params)});
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.rfind("stack 'u': ", 0), 0u) << r.error().message;
  };
  expect_error({{"address", "10.1.2.3/16"}}, "vdev");
  expect_error({{"vdev", "net_null0"}}, "address");
  expect_error({{"vdev", "net_null0"}, {"address", "10.1.2.3"}}, "prefix length");
  expect_error({{"vdev", "net_null0"}, {"address", "fd00::1/64"}}, "IPv4");
  expect_error({{"vdev", "net_null0"}, {"address", "10.1.2.3/16"}, {"gateway", "10.2.0.1"}}, "not on the stack's subnet");
  expect_error({{"vdev", "net_null0"}, {"address", "10.1.2.3/16"}, {"netns", "../x"}}, "netns");
  expect_error({{"vdev", "net_null0"}, {"address", "10.1.2.3/16"}, {"user_timeout", "soon"}}, "user_timeout");
  expect_error({{"vdev", "net_null0"}, {"address", "10.1.2.3/16"}, {"colour", "red"}}, "unknown parameter");
}

}  // namespace
}  // namespace dmm::test
