#pragma once
// The ns-3 world the backend tests share: two nodes joined by two links, as a scenario with two paths would
// build them, a server stack, two client stacks, and small session objects that count bytes. Simulated time only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "model/ns3_connection.hpp"
#include "model/ns3_defaults.hpp"
#include "model/ns3_executor.hpp"
#include "model/ns3_link.hpp"
#include "model/ns3_socket_util.hpp"
#include "model/ns3_stack.hpp"
#include "model/ns3_tcp_l4.hpp"
#include "model/ns3_tcp_access.hpp"
#include "model/ns3_tcp_variant.hpp"
#include "ns3/boolean.h"
#include "ns3/internet-stack-helper.h"
#include "ns3/uinteger.h"
#include "ns3/node.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/tcp-socket-base.h"
#include "ns3/tcp-socket-factory.h"

namespace dmm::sim {
namespace {

using namespace std::chrono_literals;

constexpr ByteCount kMegabyte = 1'000'000;

[[maybe_unused]] IpAddress ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress out;
  out.bytes = {a, b, c, d};
  return out;
}
// The server's identity address; each client stack resolves it to the server's end of its own link.
const IpAddress kServer = ipv4(192, 0, 2, 1);

[[maybe_unused]] Ns3LinkParams link_params(std::uint32_t subnet, double bits_per_second, Duration delay, double loss = 0) {
  Ns3LinkParams p;
  p.subnet_index = subnet;
  p.rate = BitsPerSecond{bits_per_second};
  p.delay = delay;
  p.loss = loss;
  return p;
}

[[maybe_unused]] Ns3StackParams stack_params(const std::string& name, ns3::Ptr<ns3::Node> node) {
  Ns3StackParams p;
  p.info.id = name;
  p.info.kind = "ns3";
  p.node = std::move(node);
  return p;
}

[[maybe_unused]] TimePoint now() { return TimePoint(ns3::Simulator::Now().GetNanoSeconds()); }

[[maybe_unused]] void run_until(Duration t) {
  ns3::Simulator::Stop(ns3::NanoSeconds(t.count()) - ns3::Simulator::Now());
  ns3::Simulator::Run();
}

[[maybe_unused]] void at(Duration t, std::function<void()> fn) {
  ns3::Simulator::Schedule(ns3::NanoSeconds(t.count()) - ns3::Simulator::Now(), std::move(fn));
}

// Server side of one session: counts (and optionally echoes) everything, records how it ended.
struct Session final : ConnectionEvents {
  std::unique_ptr<Connection> connection;
  bool echo = false;
  ByteCount received = 0;
  std::vector<std::byte> unsent;  // echo bytes the send buffer did not take yet
  std::optional<TimePoint> eof_at;
  std::optional<Error> failure;

  void on_readable() override {
    std::vector<std::byte> buffer(64 * 1024);
    while (true) {
      auto n = connection->receive(buffer);
      if (!n || *n == 0) break;
      received += *n;
      if (echo) unsent.insert(unsent.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    flush();
  }
  void on_writable() override { flush(); }
  void on_peer_closed() override { eof_at = now(); }
  void on_failed(const Error& e) override { failure = e; }
  void flush() {
    while (!unsent.empty()) {
      auto n = connection->send(unsent);
      if (!n || *n == 0) return;
      unsent.erase(unsent.begin(), unsent.begin() + static_cast<std::ptrdiff_t>(*n));
    }
  }
};

struct Server final : AcceptEvents {
  bool echo = false;
  std::vector<std::unique_ptr<Session>> sessions;
  void on_accept(std::unique_ptr<Connection> connection) override {
    auto session = std::make_unique<Session>();
    session->echo = echo;
    session->connection = std::move(connection);
    session->connection->set_events(*session);
    sessions.push_back(std::move(session));
  }
};

// Client side: sends `to_send` bytes as fast as the connection takes them, then (optionally) half-closes.
struct Client final : ConnectionEvents {
  std::unique_ptr<Connection> connection;
  ByteCount to_send = 0;
  bool half_close = true;
  bool reads = true;  // false: leaves what arrives unread
  ByteCount sent = 0;
  ByteCount received = 0;
  bool connected = false;
  bool peer_closed = false;
  int failures = 0;
  std::optional<Error> failure;
  std::optional<TimePoint> connected_at, first_reply_at;

  void on_connected() override {
    connected = true;
    connected_at = now();
    pump();
  }
  void on_writable() override { pump(); }
  void on_readable() override {
    if (!reads) return;
    std::vector<std::byte> buffer(64 * 1024);
    while (true) {
      auto n = connection->receive(buffer);
      if (!n || *n == 0) break;
      if (!first_reply_at) first_reply_at = now();
      received += *n;
    }
  }
  void on_peer_closed() override { peer_closed = true; }
  void on_failed(const Error& e) override {
    ++failures;
    failure = e;
  }
  void pump() {
    std::vector<std::byte> chunk(64 * 1024, std::byte{0x5a});
    while (sent < to_send) {
      const auto want = static_cast<std::size_t>(std::min<ByteCount>(chunk.size(), to_send - sent));
      auto n = connection->send(std::span(chunk).first(want));
      if (!n || *n == 0) return;
      sent += *n;
    }
    if (half_close) connection->shutdown_write();
  }
};

class Ns3StackTest : public ::testing::Test {
protected:
  void SetUp() override {
    configure_ns3_defaults();
    ns3::RngSeedManager::SetSeed(1);
    ns3::RngSeedManager::SetRun(1);
    client_node_ = ns3::CreateObject<ns3::Node>();
    server_node_ = ns3::CreateObject<ns3::Node>();
    install_internet_stack(ns3::NodeContainer(client_node_, server_node_));
    link1_ = std::make_unique<Ns3Link>(client_node_, server_node_, link_params(1, 10e6, 10ms));
    link2_ = std::make_unique<Ns3Link>(client_node_, server_node_, link_params(2, 100e6, 50ms));
    server_stack_ = make_stack(stack_params("server", server_node_));
    stack1_ = client_stack("path1", *link1_);
    stack2_ = client_stack("path2", *link2_);
  }

  void TearDown() override {
    // Application objects first: their destructors still talk to ns-3, which Destroy() tears down.
    clients_.clear();
    listeners_.clear();
    servers_.clear();
    stack1_.reset();
    stack2_.reset();
    server_stack_.reset();
    link1_.reset();
    link2_.reset();
    ns3::Simulator::Destroy();
  }

  static std::unique_ptr<Ns3Stack> make_stack(Ns3StackParams params) {
    auto stack = Ns3Stack::create(std::move(params));
    EXPECT_TRUE(stack.ok()) << stack.error().message;
    return std::move(stack).value();
  }

  std::unique_ptr<Ns3Stack> client_stack(const std::string& name, const Ns3Link& link,
                                         std::string variant = "cubic", Duration processing = 0ns,
                                         const std::string& kind = "ns3",
                                         std::optional<Duration> time_wait = std::nullopt) {
    const ns3::Ipv4Address server_side = link.address_b();
    Ns3StackParams p = stack_params(name, client_node_);
    p.info.kind = kind;
    p.device = link.device_a();
    p.local = link.address_a();
    p.resolve = [server_side](const IpAddress& dst) -> std::optional<ns3::Ipv4Address> {
      if (dst == kServer) return server_side;
      return std::nullopt;
    };
    p.tcp_variant = std::move(variant);
    p.processing_delay = processing;
    p.time_wait = time_wait;
    return make_stack(std::move(p));
  }

  Server& serve(Ns3Stack& stack, std::uint16_t port, L4Proto proto, bool echo) {
    servers_.push_back(std::make_unique<Server>());
    Server& server = *servers_.back();
    server.echo = echo;
    auto listener = stack.listen({kServer, port}, proto, server);
    EXPECT_TRUE(listener.ok()) << listener.error().message;
    listeners_.push_back(std::move(listener).value());
    return server;
  }

  // Starts a connection; the test fails if it is refused at once.
  Client& open(Ns3Stack& stack, std::uint16_t port, L4Proto proto, ByteCount to_send, bool half_close = true) {
    clients_.push_back(std::make_unique<Client>());
    Client& client = *clients_.back();
    client.to_send = to_send;
    client.half_close = half_close;
    auto connection = stack.connect({kServer, port}, proto, client);
    EXPECT_TRUE(connection.ok()) << connection.error().message;
    if (connection.ok()) client.connection = std::move(connection).value();
    return client;
  }

  // A connect through `stack` that fails at once with ENETUNREACH, as Linux's connect() does without a route.
  static void expect_unreachable_now(Ns3Stack& stack, std::uint16_t port) {
    Client refused;
    auto connection = stack.connect({kServer, port}, L4Proto::tcp, refused);
    ASSERT_FALSE(connection.ok());
    EXPECT_EQ(connection.error().code, ENETUNREACH);
    EXPECT_EQ(refused.failures, 0);  // no event later either
  }

  ns3::Ptr<ns3::Node> client_node_, server_node_;
  std::unique_ptr<Ns3Link> link1_, link2_;
  std::unique_ptr<Ns3Stack> server_stack_, stack1_, stack2_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace
}  // namespace dmm::sim
