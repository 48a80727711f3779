#pragma once
// Test-only peers driving any Stack through the core's Connection API: an echo server (sends back every byte,
// then ends its side when the client has ended its own) and a client that sends a payload, ends its side, and
// collects the echo until end of stream. They react to events only, as a real application on the core would.
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "dmm/stack.hpp"

namespace dmm::test {

// Deterministic, not periodic at any small power of two: a byte lost or duplicated shows up as a mismatch.
std::vector<std::byte> make_payload(std::size_t size);

class EchoSession final : public ConnectionEvents {
public:
  explicit EchoSession(std::unique_ptr<Connection> connection);
  void on_readable() override;
  void on_writable() override { flush(); }
  void on_peer_closed() override { on_readable(); }
  void on_failed(const Error& e) override { error = e; }

  Connection& connection() { return *connection_; }
  std::optional<Error> error;
  bool finished = false;  // everything echoed and our side ended

private:
  void flush();
  std::unique_ptr<Connection> connection_;
  std::vector<std::byte> pending_;
  std::size_t pending_from_ = 0;
  bool eof_ = false;
};

class EchoServer final : public AcceptEvents {
public:
  void on_accept(std::unique_ptr<Connection> connection) override;
  std::vector<std::unique_ptr<EchoSession>> sessions;
};

class EchoClient final : public ConnectionEvents {
public:
  explicit EchoClient(std::vector<std::byte> payload) : payload_(std::move(payload)) {}
  // Takes the connection that Stack::connect returned for this sink.
  void attach(std::unique_ptr<Connection> connection) { connection_ = std::move(connection); }

  void on_connected() override {
    connected = true;
    pump();
  }
  void on_writable() override { pump(); }
  void on_readable() override { drain(); }
  void on_peer_closed() override { drain(); }
  void on_failed(const Error& e) override { error = e; }

  bool done() const { return eof || error.has_value(); }
  Connection& connection() { return *connection_; }
  const std::vector<std::byte>& payload() const { return payload_; }

  bool connected = false;
  bool eof = false;
  std::optional<Error> error;
  std::vector<std::byte> received;

private:
  void pump();
  void drain();
  std::unique_ptr<Connection> connection_;
  std::vector<std::byte> payload_;
  std::size_t sent_ = 0;
  bool shut_ = false;
};

// A TCP server that accepts and never reads: its receive window fills, and then the sender's data waits unsent.
struct NonReadingServer final : AcceptEvents, ConnectionEvents {
  void on_accept(std::unique_ptr<Connection> c) override {
    c->set_events(*this);
    sessions.push_back(std::move(c));
  }
  std::vector<std::unique_ptr<Connection>> sessions;
};

// Records every event, for tests of the event contract itself.
struct EventRecorder final : ConnectionEvents {
  void on_connected() override { ++connected; }
  void on_failed(const Error& e) override {
    ++failed;
    error = e;
  }
  void on_readable() override { ++readable; }
  void on_writable() override { ++writable; }
  void on_peer_closed() override { ++peer_closed; }
  int total() const { return connected + failed + readable + writable + peer_closed; }

  int connected = 0, failed = 0, readable = 0, writable = 0, peer_closed = 0;
  std::optional<Error> error;
};

}  // namespace dmm::test
