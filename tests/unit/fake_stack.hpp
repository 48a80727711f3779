#pragma once
// A scripted Stack for unit tests of the session layer: each connect behaves as told (succeed after a delay,
// fail at once, fail later, or never answer), on a deterministic EventQueueExecutor.
#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "dmm/event_queue_executor.hpp"
#include "dmm/path_sample.hpp"
#include "dmm/stack.hpp"

namespace dmm::test {

enum class ConnectOutcome { succeed, refuse_now, fail_later, never_answer };

class FakeConnection final : public Connection {
public:
  FakeConnection(EventQueueExecutor& ex, ConnectionEvents& events, int& closes)
      : ex_(ex), events_(&events), closes_(closes) {}
  ~FakeConnection() override { ex_.cancel(timer_); }
  void set_events(ConnectionEvents& events) override { events_ = &events; }
  Result<std::size_t> send(std::span<const std::byte> data) override {
    metrics_.bytes_sent += data.size();
    metrics_.bytes_acked += data.size();
    metrics_.segments_sent += (data.size() + 1447) / 1448;
    metrics_.retransmits += retransmits_per_send;
    if (echo_after) {  // the peer sends it all back
      arm(*echo_after, [this, n = data.size()](ConnectionEvents& e) {
        echoed_ += n;
        e.on_readable();
      });
    }
    return data.size();
  }
  Result<std::size_t> receive(std::span<std::byte> buffer) override {
    if (echoed_ == 0) return make_error(EAGAIN, "nothing");
    const std::size_t n = std::min(buffer.size(), echoed_);
    echoed_ -= n;
    metrics_.bytes_received += n;
    return n;
  }
  void shutdown_write() override {}
  void close() override {
    if (!closed) ++closes_;
    closed = true;
    ex_.cancel(timer_);
  }
  ConnectionMetrics metrics() const override { return metrics_; }

  void arm(Duration after, std::function<void(ConnectionEvents&)> fn) {
    timer_ = ex_.schedule(after, [this, fn] {
      if (!closed) fn(*events_);
    });
  }
  ConnectionMetrics metrics_;
  bool closed = false;
  std::optional<Duration> echo_after;  // set: what is sent comes back after this long
  std::uint64_t retransmits_per_send = 0;

private:
  EventQueueExecutor& ex_;
  ConnectionEvents* events_;
  int& closes_;  // the stack's count: outlives the connection, which nSocket destroys when it likes
  TimerId timer_ = 0;
  std::size_t echoed_ = 0;
};

class FakeStack final : public Stack {
public:
  FakeStack(EventQueueExecutor& ex, StackId id) : ex_(ex), info_{std::move(id), "fake", {}} {}
  const StackInfo& info() const override { return info_; }
  Result<std::unique_ptr<Connection>> connect(const Endpoint&, L4Proto, ConnectionEvents& events) override {
    ++connects;
    if (outcome == ConnectOutcome::refuse_now) return make_error(ENETUNREACH, "no route");
    auto c = std::make_unique<FakeConnection>(ex_, events, closes);
    c->echo_after = echo_after;
    c->retransmits_per_send = retransmits_per_send;
    if (outcome == ConnectOutcome::succeed) c->arm(handshake, [](ConnectionEvents& e) { e.on_connected(); });
    if (outcome == ConnectOutcome::fail_later)
      c->arm(handshake, [](ConnectionEvents& e) { e.on_failed(make_error(ECONNREFUSED, "refused")); });
    return std::unique_ptr<Connection>(std::move(c));
  }
  Result<std::unique_ptr<Listener>> listen(const Endpoint&, L4Proto, AcceptEvents&) override {
    return make_error(EOPNOTSUPP, "fake stacks do not listen");
  }

  ConnectOutcome outcome = ConnectOutcome::succeed;
  Duration handshake = std::chrono::milliseconds(20);
  std::optional<Duration> echo_after;  // set: connections echo what they are sent after this long
  std::uint64_t retransmits_per_send = 0;
  int connects = 0;
  int closes = 0;  // connections of this stack closed so far

private:
  EventQueueExecutor& ex_;
  StackInfo info_;
};

// Every path sample nSocket reported, for tests that count what nRD would hear.
struct RecordedSamples final : PathSampleSink {
  void on_sample(const PathSample& s) override { all.push_back(s); }
  int failures(const StackId& id) const {
    int n = 0;
    for (auto& s : all) n += s.stack == id && s.failure;
    return n;
  }
  std::vector<PathSample> all;
};

}  // namespace dmm::test
