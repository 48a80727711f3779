#include "dmm/active_prober.hpp"

#include <algorithm>

namespace dmm {

// One echo exchange on one stack: connect, send `payload` bytes, read them back, report the exchange time.
class ActiveProber::Probe final : public ConnectionEvents {
public:
  Probe(ActiveProber& owner, const ProbeTarget& target) : owner_(owner), target_(target) {}
  ~Probe() override {
    owner_.executor_.cancel(timeout_);
    if (connection_) connection_->close();
  }

  void begin() {
    started_at_ = owner_.executor_.now();
    timeout_ = owner_.executor_.schedule(owner_.config_.timeout, [this] {
      timeout_ = 0;
      done(true, std::nullopt);
    });
    auto c = target_.stack->connect(target_.echo, L4Proto::tcp, *this);
    if (!c) {
      done(true, std::nullopt);
      return;
    }
    connection_ = std::move(*c);
  }

private:
  void on_connected() override {
    if (target_.kind == ProbeKind::connect) {
      done(false, owner_.executor_.now() - started_at_);
      return;
    }
    sent_at_ = owner_.executor_.now();
    const std::vector<std::byte> payload(owner_.config_.payload, std::byte{0x5a});
    auto n = connection_->send(payload);
    if (!n || *n != payload.size()) done(true, std::nullopt);
  }
  void on_failed(const Error&) override { done(true, std::nullopt); }
  void on_peer_closed() override { on_readable(); }
  void on_readable() override {
    std::byte buf[512];
    while (true) {
      auto n = connection_->receive(buf);
      if (!n || *n == 0) break;
      received_ += *n;
    }
    if (received_ >= owner_.config_.payload) done(false, owner_.executor_.now() - sent_at_);
  }

  void done(bool failure, std::optional<Duration> rtt) {
    if (finished_) return;
    finished_ = true;
    PathSample sample{.stack = target_.stack->info().id, .at = owner_.executor_.now(), .rtt = rtt,
                      .failure = failure};
    // The exchange's own segments are loss evidence too: without them a path that sessions left after a bad
    // spell would keep its loss estimate from that spell (only sessions reported loss). An echo probe moves a
    // data segment or two; a connect probe none (handshakes are not counted), so it refreshes RTT only.
    if (!failure && connection_) {
      const ConnectionMetrics m = connection_->metrics();
      sample.segments_sent = m.segments_sent;
      sample.retransmits = m.retransmits;
    }
    owner_.sink_.on_sample(sample);
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
    : executor_(executor), targets_(std::move(targets)), sink_(sink), config_(config), graveyard_(executor) {}

ActiveProber::~ActiveProber() { stop(); }

void ActiveProber::start() {
  if (running_) return;
  running_ = true;
  timer_ = executor_.schedule(Duration::zero(), [this] { round(); });
}

void ActiveProber::stop() {
  running_ = false;
  executor_.cancel(timer_);
  in_flight_.clear();
}

void ActiveProber::round() {
  for (const auto& t : targets_) {
    auto probe = std::make_unique<Probe>(*this, t);
    Probe* p = probe.get();
    in_flight_.push_back(std::move(probe));
    ++sent_;
    p->begin();
  }
  timer_ = executor_.schedule(config_.interval, [this] { round(); });
}

void ActiveProber::finish(Probe* probe) {
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(), [&](auto& p) { return p.get() == probe; });
  if (it == in_flight_.end()) return;
  std::unique_ptr<Probe> dead = std::move(*it);
  in_flight_.erase(it);
  graveyard_.bury(std::move(dead));
}

}  // namespace dmm
