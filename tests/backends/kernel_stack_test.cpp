// KernelStack over real namespaces: a client instance in namespace A talks to a server instance in namespace B
// over a veth pair (IPv4, IPv6, TCP, UDP); an instance without a route fails at once; the event contract
// (no events inside calls, none after close); TCP_INFO metrics; the registry kind.
#include "dmm/kernel/kernel_stack.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "dmm/kernel/kernel_connection.hpp"
#include "dmm/kernel/kernel_stack_kind.hpp"
#include "dmm/kernel/kernel_tcp_listener.hpp"
#include "echo_peers.hpp"
#include "netns_lab.hpp"

namespace dmm::kernel {
namespace {

using namespace std::chrono_literals;
using test::EchoClient;
using test::EchoServer;
using test::EventRecorder;
using test::NonReadingServer;
using test::NetnsLab;

constexpr Duration kDeadline = 20s;  // only a hang reaches it

Endpoint endpoint(const char* address, std::uint16_t port) {
  auto a = IpAddress::parse(address);
  EXPECT_TRUE(a.ok()) << address;
  return Endpoint{*a, port};
}

unsigned long inode_of_socket(const Connection& c) {
  const auto* kc = dynamic_cast<const KernelConnection*>(&c);
  EXPECT_NE(kc, nullptr);
  auto inode = test::socket_netns_inode(kc ? kc->fd() : -1);
  EXPECT_TRUE(inode.ok()) << inode.error().message;
  return inode.ok() ? *inode : 0;
}

// Two namespaces joined by a veth pair, one executor, a stack instance in each.
class TwoNamespaces : public ::testing::Test {
protected:
  void SetUp() override {
    auto a = lab_.add_namespace();
    ASSERT_TRUE(a.ok()) << a.error().message;
    auto b = lab_.add_namespace();
    ASSERT_TRUE(b.ok()) << b.error().message;
    a_ = *a;
    b_ = *b;
    auto linked = lab_.link(a_, "10.231.1.1/24", b_, "10.231.1.2/24");
    ASSERT_TRUE(linked.ok()) << linked.error().message;
    auto ex = EpollExecutor::create();
    ASSERT_TRUE(ex.ok()) << ex.error().message;
    ex_ = std::move(*ex);
  }

  std::unique_ptr<KernelStack> stack(const std::string& name, const std::string& netns,
                                     KernelProtocol protocol = KernelProtocol::tcp) {
    auto s = KernelStack::create(KernelStackConfig{name, netns, protocol}, *ex_);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }

  NetnsLab lab_;  // declared first: destroyed last, after every socket and the executor
  std::string a_, b_;
  std::unique_ptr<EpollExecutor> ex_;
};

TEST_F(TwoNamespaces, TcpBytesRoundTripExactlyAndMetricsAddUp) {
  auto server_stack = stack("blue", b_);
  auto client_stack = stack("red", a_);
  ASSERT_TRUE(server_stack && client_stack);
  EXPECT_EQ(client_stack->info().kind, "kernel");
  EXPECT_EQ(client_stack->info().id, "red");

  EchoServer server;
  auto listener = server_stack->listen(endpoint("0.0.0.0", 5001), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;

  EchoClient client(test::make_payload(4u << 20));
  auto connection = client_stack->connect(endpoint("10.231.1.2", 5001), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.attach(std::move(*connection));
  EXPECT_FALSE(client.connected);  // never inside connect()

  ASSERT_TRUE(ex_->run_until([&] { return client.done(); }, kDeadline));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.connected);
  ASSERT_EQ(client.received.size(), client.payload().size());
  EXPECT_TRUE(client.received == client.payload());

  // The echo has come back, so every byte we sent has been acknowledged (the FIN's acknowledgement may trail).
  const ByteCount sent = client.payload().size();
  ASSERT_TRUE(ex_->run_until([&] { return client.connection().metrics().bytes_acked == sent; }, kDeadline))
      << "bytes_acked " << client.connection().metrics().bytes_acked << " of " << sent;
  const ConnectionMetrics m = client.connection().metrics();
  EXPECT_GT(m.rtt, Duration::zero());
  EXPECT_EQ(m.bytes_sent, sent);
  EXPECT_EQ(m.bytes_received, sent);
  EXPECT_GT(m.segments_sent, 0u);

  // Each end lives in its own namespace.
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_EQ(inode_of_socket(client.connection()), *test::netns_inode(test::netns_path(a_)));
  EXPECT_EQ(inode_of_socket(server.sessions[0]->connection()), *test::netns_inode(test::netns_path(b_)));

  // Metrics survive close().
  client.connection().close();
  EXPECT_EQ(client.connection().metrics().bytes_acked, sent);
  EXPECT_GT(client.connection().metrics().rtt, Duration::zero());
}

TEST_F(TwoNamespaces, Ipv6RoundTrip) {
  auto linked = lab_.link(a_, "fd00:231:1::1/64", b_, "fd00:231:1::2/64");
  ASSERT_TRUE(linked.ok()) << linked.error().message;
  auto server_stack = stack("blue", b_);
  auto client_stack = stack("red", a_);
  ASSERT_TRUE(server_stack && client_stack);
  EXPECT_TRUE(client_stack->info().capabilities.ipv6);
  EchoServer server;
  auto listener = server_stack->listen(endpoint("fd00:231:1::2", 5001), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  EchoClient client(test::make_payload(256u << 10));
  auto connection = client_stack->connect(endpoint("fd00:231:1::2", 5001), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.attach(std::move(*connection));
  ASSERT_TRUE(ex_->run_until([&] { return client.done(); }, kDeadline));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.received == client.payload());
}

// A UDP sink: answers each datagram with `echo:` + the datagram, on the session the listener made for its source.
struct UdpEchoServer final : AcceptEvents, ConnectionEvents {
  void on_accept(std::unique_ptr<Connection> c) override {
    c->set_events(*this);
    sessions.push_back(std::move(c));
  }
  void on_readable() override {
    for (auto& s : sessions) {
      std::array<std::byte, 2048> buffer;
      while (true) {
        auto n = s->receive(buffer);
        if (!n) break;
        std::vector<std::byte> reply;
        for (char ch : std::string("echo:")) reply.push_back(static_cast<std::byte>(ch));
        reply.insert(reply.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
        EXPECT_TRUE(s->send(reply).ok());
      }
    }
  }
  std::vector<std::unique_ptr<Connection>> sessions;
};

std::string text_of(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST_F(TwoNamespaces, UnsentBytesAreTheSendersBacklog) {
  // Issue 12, item 4: nRD measures capacity only from backlogged senders, so the stack must say when data waits.
  auto server_stack = stack("blue", b_);
  auto client_stack = stack("red", a_);
  ASSERT_TRUE(server_stack && client_stack);
  NonReadingServer server;
  auto listener = server_stack->listen(endpoint("0.0.0.0", 5003), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  EventRecorder events;
  auto connection = client_stack->connect(endpoint("10.231.1.2", 5003), L4Proto::tcp, events);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  ASSERT_TRUE(ex_->run_until([&] { return events.connected == 1; }, kDeadline));
  Connection& c = **connection;
  EXPECT_EQ(c.metrics().bytes_unsent, 0u);  // nothing written yet
  const auto chunk = test::make_payload(256u << 10);
  // Write until the socket takes no more, letting the stack run in between, until data is seen waiting.
  ASSERT_TRUE(ex_->run_until([&] {
    auto n = c.send(chunk);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return c.metrics().bytes_unsent > 0;
  }, kDeadline));
  const ConnectionMetrics m = c.metrics();
  EXPECT_GT(m.bytes_unsent, 0u);
  EXPECT_LE(m.bytes_unsent, m.bytes_sent - m.bytes_acked);  // unsent is part of what is not yet acknowledged
}

TEST_F(TwoNamespaces, UdpDatagramsRoundTripPerSession) {
  auto server_stack = stack("blue", b_);
  auto client_stack = stack("red", a_);
  ASSERT_TRUE(server_stack && client_stack);
  UdpEchoServer server;
  auto listener = server_stack->listen(endpoint("10.231.1.2", 5002), L4Proto::udp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;

  EventRecorder events;
  auto connection = client_stack->connect(endpoint("10.231.1.2", 5002), L4Proto::udp, events);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  EXPECT_EQ(events.connected, 0);  // a UDP "connect" succeeds at once, but is reported later
  ASSERT_TRUE(ex_->run_until([&] { return events.connected == 1; }, kDeadline));

  const std::string message = "hello over udp";
  auto sent = (*connection)->send(std::as_bytes(std::span(message)));
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_EQ(*sent, message.size());
  ASSERT_TRUE(ex_->run_until([&] { return events.readable > 0; }, kDeadline));
  std::array<std::byte, 2048> buffer;
  auto n = (*connection)->receive(buffer);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(text_of(std::span(buffer).first(*n)), "echo:" + message);

  EXPECT_EQ(server.sessions.size(), 1u);
  const ConnectionMetrics m = (*connection)->metrics();
  EXPECT_EQ(m.bytes_sent, message.size());
  EXPECT_EQ(m.bytes_acked, message.size());
  EXPECT_EQ(m.segments_sent, 1u);
  EXPECT_EQ(m.bytes_received, message.size() + 5);
}

TEST_F(TwoNamespaces, SendBeforeEstablishedIsENOTCONNAndAfterShutdownEPIPE) {
  auto server_stack = stack("blue", b_);
  auto client_stack = stack("red", a_);
  ASSERT_TRUE(server_stack && client_stack);
  EchoServer server;
  auto listener = server_stack->listen(endpoint("0.0.0.0", 5003), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  EventRecorder events;
  auto connection = client_stack->connect(endpoint("10.231.1.2", 5003), L4Proto::tcp, events);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  const std::array<std::byte, 3> data{};
  auto early = (*connection)->send(data);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ENOTCONN);
  std::array<std::byte, 16> buffer;
  EXPECT_EQ((*connection)->receive(buffer).error().code, EAGAIN);  // nothing to read while connecting

  ASSERT_TRUE(ex_->run_until([&] { return events.connected == 1; }, kDeadline));
  (*connection)->shutdown_write();
  auto late = (*connection)->send(data);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, EPIPE);
  // The echo server ends its side in turn: end of stream, then receive() returns 0.
  ASSERT_TRUE(ex_->run_until([&] { return events.peer_closed == 1; }, kDeadline));
  EXPECT_EQ((*connection)->receive(buffer).value(), 0u);
  EXPECT_EQ(events.failed, 0);
}

// Closing from inside a callback: nothing more is delivered, even what the same readiness event carried.
TEST_F(TwoNamespaces, NoEventsAfterCloseInsideACallback) {
  auto server_stack = stack("blue", b_);
  auto client_stack = stack("red", a_);
  ASSERT_TRUE(server_stack && client_stack);
  EchoServer server;
  auto listener = server_stack->listen(endpoint("0.0.0.0", 5004), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;

  struct CloseOnReadable final : ConnectionEvents {
    void on_connected() override {
      const std::string hello = "hi";
      EXPECT_TRUE(connection->send(std::as_bytes(std::span(hello))).ok());
      connection->shutdown_write();  // the echo's data and FIN may then arrive in one readiness event
    }
    void on_readable() override {
      ++readable;
      connection->close();
    }
    void on_peer_closed() override { ++after_close; }
    void on_failed(const Error&) override { ++after_close; }
    void on_writable() override { ++after_close; }
    std::unique_ptr<Connection> connection;
    int readable = 0, after_close = 0;
  } sink;
  auto connection = client_stack->connect(endpoint("10.231.1.2", 5004), L4Proto::tcp, sink);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  sink.connection = std::move(*connection);
  ASSERT_TRUE(ex_->run_until([&] { return sink.readable == 1; }, kDeadline));
  // Let the server finish its side too (its FIN reaches a closed socket), then give the loop one more turn.
  ASSERT_TRUE(ex_->run_until([&] { return !server.sessions.empty() && server.sessions[0]->finished; }, kDeadline));
  bool marker = false;
  ex_->post([&] { marker = true; });
  ASSERT_TRUE(ex_->run_until([&] { return marker; }, kDeadline));
  EXPECT_EQ(sink.readable, 1);
  EXPECT_EQ(sink.after_close, 0);
}

TEST_F(TwoNamespaces, ListenerClosedInsideOnAccept) {
  auto server_stack = stack("blue", b_);
  auto client_stack = stack("red", a_);
  ASSERT_TRUE(server_stack && client_stack);
  struct CloseOnAccept final : AcceptEvents {
    void on_accept(std::unique_ptr<Connection> c) override {
      accepted.push_back(std::move(c));
      listener.reset();  // destroys the listener from inside its own callback
    }
    std::unique_ptr<Listener> listener;
    std::vector<std::unique_ptr<Connection>> accepted;
  } acceptor;
  auto listener = server_stack->listen(endpoint("0.0.0.0", 5005), L4Proto::tcp, acceptor);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  acceptor.listener = std::move(*listener);
  std::array<EventRecorder, 3> events;
  std::vector<std::unique_ptr<Connection>> clients;
  for (auto& e : events) {
    auto c = client_stack->connect(endpoint("10.231.1.2", 5005), L4Proto::tcp, e);
    ASSERT_TRUE(c.ok()) << c.error().message;
    clients.push_back(std::move(*c));
  }
  ASSERT_TRUE(ex_->run_until([&] { return !acceptor.accepted.empty(); }, kDeadline));
  EXPECT_EQ(acceptor.accepted.size(), 1u);
  EXPECT_EQ(acceptor.listener, nullptr);
}

TEST_F(TwoNamespaces, ARefusedConnectionIsReported) {
  auto client_stack = stack("red", a_);
  ASSERT_TRUE(client_stack);
  EventRecorder events;
  auto connection = client_stack->connect(endpoint("10.231.1.2", 9), L4Proto::tcp, events);  // nobody listens
  if (!connection.ok()) {
    EXPECT_EQ(connection.error().code, ECONNREFUSED) << connection.error().message;
    return;
  }
  ASSERT_TRUE(ex_->run_until([&] { return events.failed == 1; }, kDeadline));
  EXPECT_EQ(events.error->code, ECONNREFUSED) << events.error->message;
  EXPECT_EQ(events.connected, 0);
  std::array<std::byte, 1> one{};
  auto after = (*connection)->send(one);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ECONNREFUSED);  // a dead connection answers with what killed it
}

TEST_F(TwoNamespaces, CreateSocketIsInTheInstanceNamespaceAndTheCallerOwnsIt) {
  auto blue = stack("blue", b_);
  ASSERT_TRUE(blue);
  auto fd = blue->create_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  UniqueFd owned(*fd);
  EXPECT_EQ(*test::socket_netns_inode(owned.get()), *test::netns_inode(test::netns_path(b_)));
  int protocol = -1;
  socklen_t length = sizeof protocol;
  ASSERT_EQ(::getsockopt(owned.get(), SOL_SOCKET, SO_PROTOCOL, &protocol, &length), 0);
  EXPECT_EQ(protocol, IPPROTO_TCP);  // no substitution for a plain TCP instance
}

// An instance without netns uses the namespace of the thread that made it: here one with only loopback, so a
// destination outside it has no route and connect() fails at once (returned, not delivered as an event).
TEST(KernelStack, NoRouteFailsAtOnceWithENETUNREACH) {
  NetnsLab lab;
  auto lo_only = lab.add_namespace();
  ASSERT_TRUE(lo_only.ok()) << lo_only.error().message;
  const Status entered = test::run_in_netns(*lo_only, [&] {
    auto ex = EpollExecutor::create();
    ASSERT_TRUE(ex.ok()) << ex.error().message;
    auto stack = KernelStack::create(KernelStackConfig{"host", std::nullopt, KernelProtocol::tcp}, **ex);
    ASSERT_TRUE(stack.ok()) << stack.error().message;
    auto fd = (*stack)->create_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_TRUE(fd.ok());
    UniqueFd owned(*fd);
    EXPECT_EQ(*test::socket_netns_inode(owned.get()), *test::netns_inode(test::netns_path(*lo_only)));
    for (const L4Proto proto : {L4Proto::tcp, L4Proto::udp}) {
      for (const char* address : {"10.231.9.9", "fd00:231:9::9"}) {
        EventRecorder events;
        auto c = (*stack)->connect(endpoint(address, 80), proto, events);
        ASSERT_FALSE(c.ok()) << address;
        EXPECT_EQ(c.error().code, ENETUNREACH) << c.error().message;
        EXPECT_NE(c.error().message.find("host"), std::string::npos) << c.error().message;
        EXPECT_EQ(events.total(), 0);
      }
    }
  });
  ASSERT_TRUE(entered.ok()) << entered.error().message;
}

TEST(KernelStack, AMissingNamespaceFailsAtCreationNamingTheInstance) {
  auto ex = EpollExecutor::create();
  ASSERT_TRUE(ex.ok());
  auto stack = KernelStack::create(
      KernelStackConfig{"blue", "dmmt-missing-" + std::to_string(::getpid()), KernelProtocol::tcp}, **ex);
  ASSERT_FALSE(stack.ok());
  EXPECT_EQ(stack.error().code, ENOENT);
  EXPECT_EQ(stack.error().message.rfind("stack 'blue': ", 0), 0u) << stack.error().message;
}

// A world that offers nothing but the executor, as a host program would.
struct BareWorld final : StackWorld {
  explicit BareWorld(Executor& ex) : ex_(ex) {}
  Executor& executor() override { return ex_; }
  Stack* find_stack(const StackId&) override { return nullptr; }
  Executor& ex_;
};

TEST(KernelStackKind, RegistersOnceAndCreatesInstancesFromTextParameters) {
  NetnsLab lab;
  auto ns = lab.add_namespace();
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  auto ex = EpollExecutor::create();
  ASSERT_TRUE(ex.ok());
  StackRegistry registry;
  ASSERT_TRUE(register_kernel_stack_kind(registry, **ex).ok());
  EXPECT_EQ(register_kernel_stack_kind(registry, **ex).error().code, EEXIST);
  BareWorld world(**ex);

  auto blue = registry.create(StackConfig{"blue", "kernel", {{"netns", *ns}, {"protocol", "tcp"}}}, world);
  ASSERT_TRUE(blue.ok()) << blue.error().message;
  EXPECT_EQ((*blue)->info().id, "blue");
  auto* kernel = dynamic_cast<KernelStack*>(blue->get());
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->config().netns, *ns);

  auto plain = registry.create(StackConfig{"host", "kernel", {}}, world);
  ASSERT_TRUE(plain.ok()) << plain.error().message;

  auto bad = registry.create(StackConfig{"x", "kernel", {{"protocol", "quic"}}}, world);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, EINVAL);
  auto unknown = registry.create(StackConfig{"x", "kernel", {{"vdev", "net_null0"}}}, world);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, EINVAL);
}

}  // namespace
}  // namespace dmm::kernel
