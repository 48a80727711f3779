#include "dmm/active_prober.hpp"

#include <algorithm>

namespace dmm {
namespace {

// Sends the probe's `n` bytes; false if the connection did not take them all.
bool send_probe_bytes(Connection& connection, std::size_t n) {
  const std::vector<std::byte> payload(n, std::byte{0x5a});
  auto sent = connection.send(payload);
  return sent && *sent == payload.size();
}

// Reads whatever has arrived; how many bytes that was.
std::size_t drain(Connection& connection) {
  std::byte buf[512];
  std::size_t total = 0;
  while (true) {
    auto n = connection.receive(buf);
    if (!n || *n == 0) return total;
    total += *n;
  }
}

// A sample of an exchange that succeeded. The exchange's own segments are loss evidence too: without them a path
// that sessions left after a bad spell would keep its loss estimate from that spell (only sessions reported loss).
// An echo probe moves a data segment or two (counted since `before`); a connect probe none (handshakes are not
// counted), so it refreshes RTT only.
PathSample exchange_sample(const StackId& stack, TimePoint at, Duration rtt, const ConnectionMetrics& now,
                           const ConnectionMetrics& before) {
  PathSample sample{.stack = stack, .at = at, .rtt = rtt};
  sample.segments_sent = now.segments_sent - before.segments_sent;
  sample.retransmits = now.retransmits - before.retransmits;
  return sample;
}

PathSample failure_sample(const StackId& stack, TimePoint at) {
  return PathSample{.stack = stack, .at = at, .failure = true};
}

}  // namespace

// One echo target's kept connection: connected once, reused each round for `payload` bytes there and back.
class ActiveProber::KeptProbe final : public ConnectionEvents {
public:
  KeptProbe(ActiveProber& owner, const ProbeTarget& target) : owner_(owner), target_(target) {}
  ~KeptProbe() override {
    owner_.executor_.cancel(timeout_);
    if (connection_) connection_->close();  // not from inside its callbacks: the prober is going
  }

  bool waiting() const { return waiting_; }

  void probe() {
    waiting_ = true;
    ++owner_.sent_;
    timeout_ = owner_.executor_.schedule(owner_.config_.timeout, [this] {
      timeout_ = 0;
      fail();
    });
    if (connection_ && connected_) {
      send_payload();
      return;
    }
    auto c = target_.stack->connect(target_.echo, L4Proto::tcp, *this);
    if (!c) {
      fail();
      return;
    }
    ++owner_.connections_opened_;
    connection_ = std::move(*c);
    baseline_ = ConnectionMetrics{};
  }

  // The prober stops: no sample for what is in flight, and no connection kept.
  void abandon() {
    end_probe();
    drop_connection();
  }

private:
  void on_connected() override {
    connected_ = true;
    (void)connection_->set_nodelay(true);  // a few bytes every interval must not wait for Nagle
    if (waiting_) send_payload();
  }
  void on_failed(const Error&) override {
    if (waiting_) {
      fail();
      return;
    }
    drop_connection();  // between probes: the next round reconnects (and reports if that fails)
  }
  void on_peer_closed() override {
    on_readable();
    if (waiting_) {
      fail();
      return;
    }
    drop_connection();
  }
  void on_readable() override {
    if (!connection_) return;
    received_ += drain(*connection_);
    if (!waiting_ || received_ < owner_.config_.payload) return;
    const ConnectionMetrics m = connection_->metrics();
    const PathSample sample =
        exchange_sample(target_.stack->info().id, owner_.executor_.now(), owner_.executor_.now() - sent_at_, m,
                        baseline_);
    baseline_ = m;
    end_probe();
    owner_.sink_.on_sample(sample);
  }

  void send_payload() {
    sent_at_ = owner_.executor_.now();
    received_ = 0;
    if (!send_probe_bytes(*connection_, owner_.config_.payload)) fail();
  }

  void fail() {
    end_probe();
    // A connection that lost a probe (no answer in time, refused, reset) is not trusted with the next one: its
    // retransmission back-off would hide a path that has recovered.
    drop_connection();
    owner_.sink_.on_sample(failure_sample(target_.stack->info().id, owner_.executor_.now()));
  }

  void end_probe() {
    waiting_ = false;
    owner_.executor_.cancel(timeout_);
    timeout_ = 0;
  }

  // Possibly inside the connection's own callback: closed now, destroyed on the next turn.
  void drop_connection() {
    connected_ = false;
    received_ = 0;
    if (!connection_) return;
    connection_->close();
    owner_.dropped_.bury(std::move(connection_));
  }

  ActiveProber& owner_;
  ProbeTarget target_;
  std::unique_ptr<Connection> connection_;
  bool connected_ = false;
  bool waiting_ = false;  // a probe is in flight on this connection
  TimerId timeout_ = 0;
  TimePoint sent_at_{0};
  std::size_t received_ = 0;
  ConnectionMetrics baseline_;  // the connection's metrics at its last sample
};

// One exchange on a connection of its own: connect (a connect probe ends here), send `payload` bytes, read them
// back, report the exchange time, close.
class ActiveProber::OneShotProbe final : public ConnectionEvents {
public:
  OneShotProbe(ActiveProber& owner, const ProbeTarget& target) : owner_(owner), target_(target) {}
  ~OneShotProbe() override {
    owner_.executor_.cancel(timeout_);
    if (connection_) connection_->close();
  }

  void begin() {
    ++owner_.sent_;
    started_at_ = owner_.executor_.now();
    timeout_ = owner_.executor_.schedule(owner_.config_.timeout, [this] {
      timeout_ = 0;
      done(std::nullopt);
    });
    auto c = target_.stack->connect(target_.echo, L4Proto::tcp, *this);
    if (!c) {
      done(std::nullopt);
      return;
    }
    ++owner_.connections_opened_;
    connection_ = std::move(*c);
  }

private:
  void on_connected() override {
    if (target_.kind == ProbeKind::connect) {
      done(owner_.executor_.now() - started_at_);
      return;
    }
    sent_at_ = owner_.executor_.now();
    if (!send_probe_bytes(*connection_, owner_.config_.payload)) done(std::nullopt);
  }
  void on_failed(const Error&) override { done(std::nullopt); }
  void on_peer_closed() override {
    on_readable();
    done(std::nullopt);  // no-op if the echo was complete
  }
  void on_readable() override {
    received_ += drain(*connection_);
    if (received_ >= owner_.config_.payload) done(owner_.executor_.now() - sent_at_);
  }

  // `rtt` set: the exchange succeeded.
  void done(std::optional<Duration> rtt) {
    if (finished_) return;
    finished_ = true;
    const StackId& stack = target_.stack->info().id;
    const TimePoint now = owner_.executor_.now();
    owner_.sink_.on_sample(rtt && connection_ ? exchange_sample(stack, now, *rtt, connection_->metrics(), {})
                                              : failure_sample(stack, now));
    owner_.finish(this);  // destroys *this later, never inside its own callback
  }

  ActiveProber& owner_;
  ProbeTarget target_;
  std::unique_ptr<Connection> connection_;
  TimerId timeout_ = 0;
  TimePoint started_at_{0};
  TimePoint sent_at_{0};
  std::size_t received_ = 0;
  bool finished_ = false;
};

ActiveProber::ActiveProber(Executor& executor, std::vector<ProbeTarget> targets, PathSampleSink& sink,
                           ProberConfig config)
    : executor_(executor), targets_(std::move(targets)), sink_(sink), config_(config), dropped_(executor),
      finished_(executor) {
  for (const ProbeTarget& t : targets_)
    kept_.push_back(t.kind == ProbeKind::echo ? std::make_unique<KeptProbe>(*this, t) : nullptr);
}

ActiveProber::~ActiveProber() {
  stop();
  kept_.clear();
}

void ActiveProber::start() {
  if (running_) return;
  running_ = true;
  timer_ = executor_.schedule(Duration::zero(), [this] { round(); });
}

void ActiveProber::stop() {
  running_ = false;
  executor_.cancel(timer_);
  timer_ = 0;
  in_flight_.clear();
  for (auto& k : kept_)
    if (k) k->abandon();
}

void ActiveProber::round() {
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    KeptProbe* kept = kept_[i].get();
    if (kept && !kept->waiting()) {
      kept->probe();
      continue;
    }
    auto probe = std::make_unique<OneShotProbe>(*this, targets_[i]);
    OneShotProbe* p = probe.get();
    in_flight_.push_back(std::move(probe));
    p->begin();
  }
  timer_ = executor_.schedule(config_.interval, [this] { round(); });
}

void ActiveProber::finish(OneShotProbe* probe) {
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(), [&](auto& p) { return p.get() == probe; });
  if (it == in_flight_.end()) return;
  std::unique_ptr<OneShotProbe> dead = std::move(*it);
  in_flight_.erase(it);
  finished_.bury(std::move(dead));
}

}  // namespace dmm
