#pragma once
// One conformance suite that every Stack kind runs — ns-3 (tests/sim), kernel and the test plug-in
// (tests/backends), lwip-dpdk (tests/lwip_dpdk) — so that the worlds' semantics are pinned by tests here instead of
// being discovered in a dmm-compare: connect and echo byte-exact, refused, unreachable, reset by the peer,
// half-close, close with data in flight, a listener on the instance, UDP, and the metrics after a known transfer.
//
// A kind takes part with a World class (default-constructible; the test's fixture owns one) that has:
//   Stack& stack();                          the instance under test
//   Stack& peer();                           an instance on the far side of its path
//   Endpoint peer_endpoint(std::uint16_t);   how stack() reaches a port of peer()
//   Endpoint stack_endpoint(std::uint16_t);  how peer() reaches a port of stack()
//   Endpoint unreachable(std::uint16_t);     an address stack() has no way to
//   bool run_until(const std::function<bool()>& done, Duration limit);  drives the world until done (false: limit)
//   static constexpr int kUnreachableErrno;  what the kind says of `unreachable`, as the immediate error of connect
// and is instantiated with INSTANTIATE_TYPED_TEST_SUITE_P(Name, StackConformance, World).
// Where kinds differ, the difference is a World constant, named and commented there.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dmm/stack.hpp"

namespace dmm::conformance {

using namespace std::chrono_literals;

inline constexpr Duration kLimit = 20s;  // only a hang reaches it (simulated time in ns-3)

inline std::vector<std::byte> pattern(std::size_t size) {
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = std::byte((i * 131 + i / 251) & 0xff);  // no short period
  return out;
}

inline std::string text_of(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// One end of a connection, driven by its events only: reads everything, optionally echoes it, optionally sends
// `to_send` and then ends its side (shutdown_write), optionally closes on the first data without reading it.
class Peer final : public ConnectionEvents {
public:
  enum class Mode { echo, count, reply_after_eof, close_unread };

  explicit Peer(Mode mode = Mode::count) : mode_(mode) {}
  void attach(std::unique_ptr<Connection> c) { connection_ = std::move(c); }
  Connection& connection() { return *connection_; }
  bool has_connection() const { return connection_ != nullptr; }

  // Client side: what to send once connected, and whether to end our side after it.
  void send_on_connect(std::vector<std::byte> data, bool then_shutdown) {
    out_ = std::move(data);
    shutdown_after_ = then_shutdown;
  }

  void on_connected() override {
    connected = true;
    flush();
  }
  void on_writable() override { flush(); }
  void on_readable() override { drain(); }
  void on_peer_closed() override {
    drain();
    eof = true;
    if (mode_ == Mode::reply_after_eof && !closed_) {  // answer after the other side has ended its own
      const std::string reply = std::to_string(received.size());
      out_.assign(reinterpret_cast<const std::byte*>(reply.data()),
                  reinterpret_cast<const std::byte*>(reply.data()) + reply.size());
      sent_ = 0;
      shutdown_after_ = true;
      flush();
    }
    if (mode_ == Mode::echo && !closed_) {
      echo_eof_ = true;
      flush();
    }
  }
  void on_failed(const Error& e) override { error = e; }

  // The application closes at once (after handing over whatever the stack took).
  void close_now() {
    closed_ = true;
    connection_->close();
  }

  bool connected = false;
  bool eof = false;
  std::optional<Error> error;
  std::vector<std::byte> received;
  std::size_t taken = 0;  // bytes the connection accepted from us

private:
  void drain() {
    if (closed_ || !connection_) return;
    if (mode_ == Mode::close_unread) {  // data waits unread: closing now must reset the connection
      close_now();
      return;
    }
    std::vector<std::byte> buffer(64 * 1024);
    while (true) {
      auto n = connection_->receive(buffer);
      if (!n || *n == 0) break;
      received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
      if (mode_ == Mode::echo) out_.insert(out_.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    flush();
  }

  void flush() {
    if (closed_ || !connection_) return;
    while (sent_ < out_.size()) {
      auto n = connection_->send(std::span(out_).subspan(sent_));
      if (!n || *n == 0) return;
      sent_ += *n;
      taken += *n;
    }
    if ((shutdown_after_ || echo_eof_) && !shut_) {
      shut_ = true;
      connection_->shutdown_write();
    }
  }

  Mode mode_;
  std::unique_ptr<Connection> connection_;
  std::vector<std::byte> out_;
  std::size_t sent_ = 0;
  bool shutdown_after_ = false, echo_eof_ = false, shut_ = false, closed_ = false;
};

// Accepts connections and gives each a Peer of one mode.
class Acceptor final : public AcceptEvents {
public:
  explicit Acceptor(Peer::Mode mode) : mode_(mode) {}
  void on_accept(std::unique_ptr<Connection> c) override {
    peers.push_back(std::make_unique<Peer>(mode_));
    Peer& p = *peers.back();
    Connection& raw = *c;
    p.attach(std::move(c));
    raw.set_events(p);
  }
  std::vector<std::unique_ptr<Peer>> peers;

private:
  Peer::Mode mode_;
};

// UDP: a "session" per remote endpoint; every datagram is sent back.
class DatagramEcho final : public AcceptEvents {
public:
  struct Session final : ConnectionEvents {
    std::unique_ptr<Connection> connection;
    void on_readable() override {
      std::byte buffer[2048];
      while (true) {
        auto n = connection->receive(buffer);
        if (!n || *n == 0) break;
        (void)connection->send(std::span(buffer, *n));
      }
    }
  };
  void on_accept(std::unique_ptr<Connection> c) override {
    sessions.push_back(std::make_unique<Session>());
    sessions.back()->connection = std::move(c);
    sessions.back()->connection->set_events(*sessions.back());
  }
  std::vector<std::unique_ptr<Session>> sessions;
};

template <typename World>
class StackConformance : public ::testing::Test {
protected:
  World world;
  std::vector<std::unique_ptr<Listener>> listeners;

  ~StackConformance() override {
    for (auto& l : listeners) l->close();
  }

  template <typename Events>
  void listen_on_peer(std::uint16_t port, L4Proto proto, Events& events) {
    auto l = world.peer().listen(world.peer_endpoint(port), proto, events);
    ASSERT_TRUE(l.ok()) << l.error().message;
    listeners.push_back(std::move(*l));
  }

  // Connects `client` from the instance under test; the test fails if connect refuses at once.
  void connect(Peer& client, std::uint16_t port, L4Proto proto = L4Proto::tcp) {
    auto c = world.stack().connect(world.peer_endpoint(port), proto, client);
    ASSERT_TRUE(c.ok()) << c.error().message;
    client.attach(std::move(*c));
  }
};

TYPED_TEST_SUITE_P(StackConformance);

TYPED_TEST_P(StackConformance, ConnectsAndEchoesByteExact) {
  Acceptor server(Peer::Mode::echo);
  this->listen_on_peer(7101, L4Proto::tcp, server);
  Peer client;
  const auto payload = pattern(256 * 1024);
  client.send_on_connect(payload, /*then_shutdown=*/true);
  this->connect(client, 7101);
  ASSERT_TRUE(this->world.run_until([&] { return client.eof || client.error; }, kLimit));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.connected);
  EXPECT_EQ(client.received.size(), payload.size());
  EXPECT_TRUE(client.received == payload);
}

TYPED_TEST_P(StackConformance, HalfCloseLetsThePeerAnswerAfterOurEnd) {
  Acceptor server(Peer::Mode::reply_after_eof);
  this->listen_on_peer(7102, L4Proto::tcp, server);
  Peer client;
  client.send_on_connect(pattern(10000), /*then_shutdown=*/true);
  this->connect(client, 7102);
  ASSERT_TRUE(this->world.run_until([&] { return client.eof || client.error; }, kLimit));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_EQ(text_of(client.received), "10000");  // sent by the peer after it saw our end of stream
}

TYPED_TEST_P(StackConformance, ARefusedPortFailsWithConnectionRefused) {
  Peer client;
  auto c = this->world.stack().connect(this->world.peer_endpoint(7109), L4Proto::tcp, client);
  ASSERT_TRUE(c.ok()) << c.error().message;  // refusal is the peer's answer: it comes as an event
  client.attach(std::move(*c));
  ASSERT_TRUE(this->world.run_until([&] { return client.error.has_value(); }, kLimit));
  EXPECT_EQ(client.error->code, ECONNREFUSED) << client.error->message;
  EXPECT_FALSE(client.connected);
}

TYPED_TEST_P(StackConformance, AnUnreachableAddressIsAnImmediateError) {
  Peer client;
  auto c = this->world.stack().connect(this->world.unreachable(80), L4Proto::tcp, client);
  ASSERT_FALSE(c.ok()) << "connect to an address the instance has no route to was accepted";
  EXPECT_EQ(c.error().code, TypeParam::kUnreachableErrno) << c.error().message;
}

TYPED_TEST_P(StackConformance, APeerClosingWithUnreadDataResetsTheConnection) {
  Acceptor server(Peer::Mode::close_unread);
  this->listen_on_peer(7103, L4Proto::tcp, server);
  Peer client;
  client.send_on_connect(pattern(1000), /*then_shutdown=*/false);
  this->connect(client, 7103);
  ASSERT_TRUE(this->world.run_until([&] { return client.error.has_value() || client.eof; }, kLimit));
  ASSERT_TRUE(client.error.has_value()) << "the peer's reset was reported as an orderly end of stream";
  EXPECT_EQ(client.error->code, ECONNRESET) << client.error->message;
}

TYPED_TEST_P(StackConformance, CloseWithDataInFlightStillDeliversIt) {
  Acceptor server(Peer::Mode::count);
  this->listen_on_peer(7104, L4Proto::tcp, server);
  Peer client;
  this->connect(client, 7104);
  ASSERT_TRUE(this->world.run_until([&] { return client.connected || client.error; }, kLimit));
  ASSERT_FALSE(client.error) << client.error->message;
  // Hand over as much as the stack takes in one go, then close at once: the stack still owes all of it.
  const auto payload = pattern(512 * 1024);
  std::size_t taken = 0;
  while (taken < payload.size()) {
    auto n = client.connection().send(std::span(payload).subspan(taken));
    if (!n || *n == 0) break;
    taken += *n;
  }
  ASSERT_GT(taken, 0u);
  client.close_now();
  ASSERT_TRUE(this->world.run_until([&] { return !server.peers.empty() && server.peers[0]->eof; }, kLimit));
  EXPECT_EQ(server.peers[0]->received.size(), taken);
  EXPECT_TRUE(std::equal(server.peers[0]->received.begin(), server.peers[0]->received.end(), payload.begin()));
}

TYPED_TEST_P(StackConformance, AListenerOnTheInstanceAcceptsThePeer) {
  Acceptor server(Peer::Mode::echo);
  auto l = this->world.stack().listen(this->world.stack_endpoint(7105), L4Proto::tcp, server);
  ASSERT_TRUE(l.ok()) << l.error().message;
  this->listeners.push_back(std::move(*l));
  Peer client;
  client.send_on_connect(pattern(20000), /*then_shutdown=*/true);
  auto c = this->world.peer().connect(this->world.stack_endpoint(7105), L4Proto::tcp, client);
  ASSERT_TRUE(c.ok()) << c.error().message;
  client.attach(std::move(*c));
  ASSERT_TRUE(this->world.run_until([&] { return client.eof || client.error; }, kLimit));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.received == pattern(20000));
}

TYPED_TEST_P(StackConformance, UdpDatagramsRoundTrip) {
  DatagramEcho server;
  this->listen_on_peer(7106, L4Proto::udp, server);
  Peer client;
  const std::string hello = "hello over udp";
  client.send_on_connect(std::vector<std::byte>(reinterpret_cast<const std::byte*>(hello.data()),
                                                reinterpret_cast<const std::byte*>(hello.data()) + hello.size()),
                         /*then_shutdown=*/false);
  this->connect(client, 7106, L4Proto::udp);
  ASSERT_TRUE(this->world.run_until([&] { return client.received.size() >= hello.size() || client.error; }, kLimit));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.connected);  // a UDP "connection" is reported connected too
  EXPECT_EQ(text_of(client.received), hello);
  const ConnectionMetrics m = client.connection().metrics();
  EXPECT_EQ(m.bytes_sent, hello.size());
  EXPECT_EQ(m.bytes_acked, hello.size());  // no acknowledgements in UDP: what was sent counts as acked
  EXPECT_EQ(m.bytes_received, hello.size());
  EXPECT_EQ(m.segments_sent, 1u);
}

TYPED_TEST_P(StackConformance, MetricsAddUpAfterAKnownTransfer) {
  Acceptor server(Peer::Mode::echo);
  this->listen_on_peer(7107, L4Proto::tcp, server);
  Peer client;
  const std::size_t size = 100'000;
  client.send_on_connect(pattern(size), /*then_shutdown=*/true);
  this->connect(client, 7107);
  ASSERT_TRUE(this->world.run_until([&] { return client.eof || client.error; }, kLimit));
  ASSERT_FALSE(client.error) << client.error->message;
  const ConnectionMetrics m = client.connection().metrics();
  EXPECT_EQ(m.bytes_sent, size);
  EXPECT_EQ(m.bytes_acked, size);  // the echo came back: every byte was acknowledged
  EXPECT_EQ(m.bytes_received, size);
  EXPECT_EQ(m.bytes_unsent, 0u);
  EXPECT_GT(m.rtt.count(), 0);
  EXPECT_GE(m.segments_sent, size / 1500);  // at least one segment per MTU's worth
}

REGISTER_TYPED_TEST_SUITE_P(StackConformance, ConnectsAndEchoesByteExact, HalfCloseLetsThePeerAnswerAfterOurEnd,
                            ARefusedPortFailsWithConnectionRefused, AnUnreachableAddressIsAnImmediateError,
                            APeerClosingWithUnreadDataResetsTheConnection, CloseWithDataInFlightStillDeliversIt,
                            AListenerOnTheInstanceAcceptsThePeer, UdpDatagramsRoundTrip,
                            MetricsAddUpAfterAKnownTransfer);

}  // namespace dmm::conformance
