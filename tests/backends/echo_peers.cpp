#include "echo_peers.hpp"

#include <array>

namespace dmm::test {

std::vector<std::byte> make_payload(std::size_t size) {
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>((i * 7 + i / 251) % 253);
  return out;
}

EchoSession::EchoSession(std::unique_ptr<Connection> connection) : connection_(std::move(connection)) {}

void EchoSession::on_readable() {
  std::array<std::byte, 65536> buffer;
  while (!eof_) {
    auto n = connection_->receive(buffer);
    if (!n) break;  // EAGAIN (or an error, which on_failed reports)
    if (*n == 0) {
      eof_ = true;
      break;
    }
    pending_.insert(pending_.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  flush();
}

void EchoSession::flush() {
  while (pending_from_ < pending_.size()) {
    auto n = connection_->send(std::span(pending_).subspan(pending_from_));
    if (!n || *n == 0) break;  // full: on_writable follows
    pending_from_ += *n;
  }
  if (pending_from_ == pending_.size()) {
    pending_.clear();
    pending_from_ = 0;
    if (eof_ && !finished) {
      connection_->shutdown_write();
      finished = true;
    }
  }
}

void EchoServer::on_accept(std::unique_ptr<Connection> connection) {
  auto session = std::make_unique<EchoSession>(std::move(connection));
  session->connection().set_events(*session);
  sessions.push_back(std::move(session));
}

void EchoClient::pump() {
  while (sent_ < payload_.size()) {
    auto n = connection_->send(std::span(payload_).subspan(sent_));
    if (!n || *n == 0) return;  // full: on_writable follows (or an error: on_failed)
    sent_ += *n;
  }
  if (!shut_) {
    connection_->shutdown_write();
    shut_ = true;
  }
}

void EchoClient::drain() {
  std::array<std::byte, 65536> buffer;
  while (!eof) {
    auto n = connection_->receive(buffer);
    if (!n) return;
    if (*n == 0) {
      eof = true;
      return;
    }
    received.insert(received.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
  }
}

}  // namespace dmm::test
