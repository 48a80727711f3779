#include "core_workloads.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "cpu_time.hpp"

namespace dmm::bench {
namespace {

using namespace std::chrono_literals;
constexpr Duration kSetupDeadline = 20s;

// Connects and waits for on_connected (or a failure), driving the loop.
template <typename Sink>
Result<std::unique_ptr<Connection>> connect_and_wait(Stack& stack, kernel::EpollExecutor& executor,
                                                     const Endpoint& to, L4Proto proto, Sink& sink) {
  auto connection = stack.connect(to, proto, sink);
  if (!connection) return connection.error();
  if (!executor.run_until([&] { return sink.connected || sink.error; }, kSetupDeadline))
    return make_error(ETIMEDOUT, "connect to " + to.to_string() + " did not finish within 20 s");
  if (sink.error) return *sink.error;
  return connection;
}

struct SinkBase : ConnectionEvents {
  void on_connected() override { connected = true; }
  void on_failed(const Error& e) override { error = e; }
  bool connected = false;
  std::optional<Error> error;
};

struct PingPong final : SinkBase {
  void on_readable() override {
    while (got < reply.size()) {
      auto n = connection->receive(std::span(reply).subspan(got));
      if (!n) {
        if (n.error().code != EAGAIN) error = n.error();
        return;
      }
      if (*n == 0) {
        error = make_error(ECONNRESET, "the server closed the connection");
        return;
      }
      got += *n;
    }
    replied = true;
  }
  void send_message() {
    got = 0;
    replied = false;
    std::size_t sent = 0;
    while (sent < message.size()) {  // 64 bytes: always taken at once by either stack
      auto n = connection->send(std::span(message).subspan(sent));
      if (!n) {
        error = n.error();
        return;
      }
      sent += *n;
    }
  }
  Connection* connection = nullptr;
  std::vector<std::byte> message, reply;
  std::size_t got = 0;
  bool replied = false;
};

struct BulkSender final : SinkBase {
  void on_writable() override { pump(); }
  void on_readable() override {
    while (count_got < sizeof count) {
      auto n = connection->receive(std::span(reinterpret_cast<std::byte*>(&count), sizeof count).subspan(count_got));
      if (!n || *n == 0) return;
      count_got += *n;
    }
  }
  void pump() {
    if (shut || error) return;
    while (clock() < stop) {
      auto n = connection->send(std::span(block).subspan(offset));
      if (!n) {
        error = n.error();
        return;
      }
      sent += *n;
      offset = (offset + *n) % block.size();
      if (*n == 0) return;  // the stack is full: on_writable continues where this left off
    }
    connection->shutdown_write();
    shut = true;
  }
  std::function<TimePoint()> clock;
  Connection* connection = nullptr;
  std::vector<std::byte> block;
  std::size_t offset = 0;  // where in `block` the next send starts (a stack may take part of it)
  TimePoint stop{};
  std::uint64_t sent = 0;
  std::uint64_t count = 0;
  std::size_t count_got = 0;
  bool shut = false;
};

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

Result<nlohmann::json> run_core_pingpong(Stack& stack, kernel::EpollExecutor& executor, const Endpoint& to, int count,
                                         int warmup, std::size_t size) {
  PingPong p;
  auto connection = connect_and_wait(stack, executor, to, L4Proto::tcp, p);
  if (!connection) return connection.error();
  p.connection = connection->get();
  p.message.assign(size, std::byte{'p'});
  p.reply.resize(size);
  std::vector<double> rtt_us;
  rtt_us.reserve(static_cast<std::size_t>(count));
  double cpu_start = 0;
  for (int i = 0; i < warmup + count; ++i) {
    if (i == warmup) cpu_start = process_cpu_us();
    const TimePoint start = executor.now();
    p.send_message();
    if (!executor.run_until([&] { return p.replied || p.error; }, kSetupDeadline))
      return make_error(ETIMEDOUT, "no reply within 20 s");
    if (p.error) return *p.error;
    if (i >= warmup) rtt_us.push_back(std::chrono::duration<double, std::micro>(executor.now() - start).count());
  }
  const double cpu = (process_cpu_us() - cpu_start) / count;
  (*connection)->close();
  std::sort(rtt_us.begin(), rtt_us.end());
  auto at = [&](double q) { return rtt_us[std::min(rtt_us.size() - 1, static_cast<std::size_t>(q * (rtt_us.size() - 1) + 0.5))]; };
  double sum = 0;
  for (double v : rtt_us) sum += v;
  return nlohmann::json{{"p50_us", at(0.5)}, {"p99_us", at(0.99)}, {"mean_us", sum / rtt_us.size()},
                        {"cpu_us_per_rt", cpu}};
}

Result<nlohmann::json> run_core_bulk(Stack& stack, kernel::EpollExecutor& executor, const Endpoint& to,
                                     std::chrono::milliseconds duration, std::size_t write_size) {
  BulkSender b;
  auto connection = connect_and_wait(stack, executor, to, L4Proto::tcp, b);
  if (!connection) return connection.error();
  b.connection = connection->get();
  b.clock = [&executor] { return executor.now(); };
  b.block.assign(write_size, std::byte{'b'});
  const double cpu_start = process_cpu_us();
  const TimePoint start = executor.now();
  b.stop = start + duration;
  b.pump();
  if (!executor.run_until([&] { return (b.shut && b.count_got == sizeof b.count) || b.error; },
                          duration + Duration(60s)))
    return make_error(ETIMEDOUT, "the transfer did not finish");
  if (b.error) return *b.error;
  const double secs = seconds(executor.now() - start);
  const double cpu = process_cpu_us() - cpu_start;
  (*connection)->close();
  if (b.count != b.sent)
    return make_error(EIO, "the server received " + std::to_string(b.count) + " bytes of " + std::to_string(b.sent));
  return nlohmann::json{{"gbps", static_cast<double>(b.sent) * 8 / secs / 1e9},
                        {"cpu_s_per_gb", cpu / 1e6 / (static_cast<double>(b.sent) / 1e9)},
                        {"bytes", b.sent},
                        {"seconds", secs}};
}

Result<nlohmann::json> run_core_udp_flood(Stack& stack, kernel::EpollExecutor& executor, const Endpoint& to,
                                          std::chrono::milliseconds duration, std::size_t size,
                                          const std::function<std::uint64_t()>& sent_frames) {
  SinkBase sink;
  auto connection = connect_and_wait(stack, executor, to, L4Proto::udp, sink);
  if (!connection) return connection.error();
  std::vector<std::byte> datagram(size, std::byte{'u'});
  std::uint64_t accepted = 0;
  const std::uint64_t frames_before = sent_frames ? sent_frames() : 0;
  const double cpu_start = process_cpu_us();
  const TimePoint start = executor.now();
  const TimePoint stop = start + duration;
  bool done = false;
  // Batches of sends, each one executor task, so that the loop turns between them (the stack's poller sends
  // the frames a batch queued).
  std::function<void()> batch = [&] {
    for (int i = 0; i < 256; ++i) {
      auto n = (*connection)->send(datagram);
      if (!n) {
        sink.error = n.error();
        done = true;
        return;
      }
      if (*n > 0) ++accepted;
    }
    if (executor.now() >= stop)
      done = true;
    else
      executor.schedule(Duration::zero(), batch);
  };
  executor.schedule(Duration::zero(), batch);
  if (!executor.run_until([&] { return done; }, duration + Duration(60s)))
    return make_error(ETIMEDOUT, "the flood did not finish");
  const double secs = seconds(executor.now() - start);
  // The last batch's frames leave on the loop's next turns: they were accepted within the time, so they count.
  executor.run_until([] { return false; }, std::chrono::milliseconds(10));
  if (sink.error) return *sink.error;
  const std::uint64_t packets = sent_frames ? sent_frames() - frames_before : accepted;
  const double cpu = process_cpu_us() - cpu_start;
  (*connection)->close();
  return nlohmann::json{{"pps", static_cast<double>(packets) / secs},
                        {"cpu_ns_per_packet", cpu * 1000 / static_cast<double>(packets ? packets : 1)},
                        {"packets", packets},
                        {"accepted", accepted},
                        {"seconds", secs}};
}

}  // namespace dmm::bench
