#include "run/workload_client.hpp"

#include <algorithm>
#include <array>

#include "run/datagram_tag.hpp"

namespace dmm::sim {
namespace {

constexpr std::array<std::byte, 64 * 1024> kZeros{};
// On-off sessions send in ticks: fine enough to look like a constant rate, coarse enough to stay cheap.
constexpr Duration kPacingTick = std::chrono::milliseconds(10);
constexpr std::size_t kMaxDatagram = 1400;

}  // namespace

// One session of the workload, from open to its record.
class WorkloadClient::Run final : public SessionEvents {
public:
  Run(WorkloadClient& owner, scenario::SessionRecord record) : owner_(owner), rec_(std::move(record)) {
    const auto& spec = owner_.spec_;
    switch (spec.kind) {
      case scenario::WorkloadKind::bulk: to_send_ = spec.size; break;
      case scenario::WorkloadKind::request_response:
        to_send_ = spec.request;
        to_receive_ = spec.response;
        break;
      case scenario::WorkloadKind::on_off: break;  // paced, see tick()
      case scenario::WorkloadKind::command: break;  // never here: dmm-sim runs its simulate_as
    }
  }
  ~Run() override {
    owner_.ctx_.executor.cancel(tick_timer_);
    owner_.ctx_.executor.cancel(timeout_timer_);
  }

  Status open(const SessionRequest& request) {
    auto s = owner_.ctx_.nsocket.open(request, *this);
    if (!s) return s.error();
    session_ = std::move(*s);
    return {};
  }

  // A `timeout` (a command's, kept by its simulate_as): still going after it, the session is stopped and failed,
  // as dmm-emu stops the program.
  void stop_after(Duration timeout) {
    timeout_timer_ = owner_.ctx_.executor.schedule(timeout, [this, timeout] {
      timeout_timer_ = 0;
      end(false, "timed out after " + format_duration(timeout) + " (stopped)");
    });
  }

  void end(bool completed, const std::string& error) {
    if (ended_) return;
    ended_ = true;
    owner_.ctx_.executor.cancel(tick_timer_);
    owner_.ctx_.executor.cancel(timeout_timer_);
    rec_.end = owner_.ctx_.executor.now();
    if (session_ && !session_->established()) {
      // Never set up (failed, or still trying when the run ended): what nSocket decided so far, and the stack
      // it was still waiting for.
      const Decision& d = session_->decision();
      rec_.rule = d.rule;
      rec_.policy_version = d.policy_version;
      set_attempts(d);  // attempts under way say `connecting`
    }
    if (session_) {
      session_->close();
      const auto m = session_->metrics();
      rec_.bytes_sent = m.bytes_sent;
      rec_.bytes_received = m.bytes_received;
      // TCP: what the server's stack acknowledged by now; UDP: settled from the receiver's side after the run.
      rec_.bytes_delivered = m.bytes_acked + m.bytes_received;
    }
    rec_.datagrams_sent = datagrams_sent_;
    rec_.completed = completed;
    rec_.error = error;
    owner_.ctx_.record(rec_);
    owner_.ended(this);
  }

  std::uint64_t id() const { return rec_.session; }

private:
  void set_attempts(const Decision& d) {
    rec_.attempts = format_attempts(d.trail);
    rec_.attempt_counts = count_attempts(d.trail);
  }
  void on_established(const Decision& d) override {
    rec_.stack = d.stack;
    rec_.rule = d.rule;
    rec_.policy_version = d.policy_version;
    set_attempts(d);
    if (owner_.spec_.kind == scenario::WorkloadKind::on_off) {
      on_until_ = owner_.ctx_.executor.now() + owner_.spec_.on;
      tick();
    } else {
      pump();
    }
  }
  void on_failed(const Error& e, const Decision& d) override {
    rec_.rule = d.rule;
    rec_.policy_version = d.policy_version;
    set_attempts(d);
    // A session that never got a stack has none in the record; one that died on its stack keeps it.
    end(false, e.message);
  }
  void on_writable() override { pump(); }
  void on_readable() override {
    std::array<std::byte, 64 * 1024> buf;
    while (true) {
      auto n = session_->receive(buf);
      if (!n || *n == 0) break;
      received_ += *n;
    }
    if (to_receive_ > 0 && received_ >= to_receive_) end(true, "");
  }
  void on_peer_closed() override {
    on_readable();
    if (ended_) return;
    const bool all_sent = sent_ >= to_send_;
    if (owner_.spec_.kind == scenario::WorkloadKind::bulk && all_sent) end(true, "");
    else end(false, "peer closed early");
  }

  // Sends what is due, as far as the send buffer takes it; on_writable resumes after a short send.
  void pump() {
    while (!ended_ && sent_ < to_send_) {
      const auto chunk = std::min<ByteCount>(kZeros.size(), to_send_ - sent_);
      auto n = session_->send({kZeros.data(), static_cast<std::size_t>(chunk)});
      if (!n) return end(false, n.error().message);
      if (*n == 0) return;
      sent_ += *n;
    }
    // Bulk: FIN after the last byte; the server closes once it has read everything, which completes us.
    if (!ended_ && owner_.spec_.kind == scenario::WorkloadKind::bulk && !fin_sent_) {
      fin_sent_ = true;
      session_->shutdown_write();
    }
  }

  void tick() {
    const auto& spec = owner_.spec_;
    if (owner_.ctx_.executor.now() >= on_until_) return end(true, "");
    const double per_tick = spec.send_rate.value / 8.0 * to_seconds(kPacingTick);
    credit_ += per_tick;
    const bool udp = spec.proto == L4Proto::udp;
    const std::size_t unit = udp ? kMaxDatagram : kZeros.size();
    // A datagram carries at least its tag (the receiver measures the session by it).
    const double smallest = udp ? double(kDatagramTagBytes) : 1.0;
    while (credit_ >= smallest) {
      const auto len = static_cast<std::size_t>(std::min<double>(credit_, double(unit)));
      auto n = udp ? send_datagram(len) : session_->send({kZeros.data(), len});
      if (!n) return end(false, n.error().message);
      if (*n == 0) break;  // TCP buffer full: the rate is above what the path carries
      credit_ -= double(*n);
    }
    credit_ = std::min(credit_, std::max(per_tick * 10, smallest));  // never burst more than ten ticks' worth
    tick_timer_ = owner_.ctx_.executor.schedule(kPacingTick, [this] { tick(); });
  }

  // One UDP datagram of `len` bytes whose tag says which session it belongs to, its number and when it left.
  Result<std::size_t> send_datagram(std::size_t len) {
    const std::span<std::byte> datagram(datagram_.data(), len);
    write_datagram_tag(datagram, {rec_.session, datagrams_sent_, owner_.ctx_.executor.now()});
    auto n = session_->send(datagram);
    if (n && *n > 0) ++datagrams_sent_;
    return n;
  }

  WorkloadClient& owner_;
  scenario::SessionRecord rec_;
  std::array<std::byte, kMaxDatagram> datagram_{};
  std::uint64_t datagrams_sent_ = 0;
  std::unique_ptr<Session> session_;
  ByteCount to_send_ = 0, sent_ = 0, to_receive_ = 0, received_ = 0;
  bool fin_sent_ = false;
  bool ended_ = false;
  TimePoint on_until_{0};
  double credit_ = 0;
  TimerId tick_timer_ = 0;
  TimerId timeout_timer_ = 0;
};

WorkloadClient::WorkloadClient(const scenario::WorkloadSpec& spec, WorkloadContext context)
    : spec_(spec), ctx_(std::move(context)), graveyard_(ctx_.executor) {}

WorkloadClient::~WorkloadClient() {
  ctx_.executor.cancel(arrival_timer_);
  live_.clear();
}

void WorkloadClient::start(TimePoint run_end) {
  stop_ = spec_.stop ? *spec_.stop : run_end;
  if (spec_.rate) arrivals_.emplace(*spec_.rate, ctx_.seed, TimePoint{spec_.start});
  const Duration first = spec_.start - ctx_.executor.now();
  arrival_timer_ = ctx_.executor.schedule(first, [this] {
    arrival_timer_ = 0;
    open_one();
    if (spec_.rate) schedule_next_arrival();
  });
}

void WorkloadClient::schedule_next_arrival() {
  const TimePoint at = arrivals_->next();
  if (at >= stop_) return;
  arrival_timer_ = ctx_.executor.schedule(std::max(Duration::zero(), at - ctx_.executor.now()), [this] {
    arrival_timer_ = 0;
    open_one();
    schedule_next_arrival();
  });
}

void WorkloadClient::open_one() {
  if (ctx_.executor.now() >= stop_) return;
  ++started_in_sequence_;
  ++opened_;
  scenario::SessionRecord rec;
  rec.session = ctx_.next_session_id++;
  rec.workload = spec_.name;
  rec.node = spec_.from;
  rec.dst = spec_.to;
  rec.port = spec_.port;
  rec.intent = spec_.intent;
  rec.proto = spec_.proto;
  rec.start = ctx_.executor.now();
  auto run = std::make_unique<Run>(*this, rec);
  Run* r = run.get();
  live_.emplace(rec.session, std::move(run));
  const SessionRequest request{.dst = {ctx_.dst, spec_.port}, .proto = spec_.proto, .intent = spec_.intent};
  if (auto st = r->open(request); !st) return r->end(false, st.error().message);
  if (spec_.session_timeout) r->stop_after(*spec_.session_timeout);
}

void WorkloadClient::ended(Run* run) {
  auto it = live_.find(run->id());
  if (it == live_.end()) return;
  std::unique_ptr<Run> dead = std::move(it->second);
  live_.erase(it);
  if (finishing_) return;  // not inside a session callback: `dead` may go now
  // Usually called from inside the session's own callback: destroyed on the next executor turn.
  graveyard_.bury(std::move(dead));
  // Without a rate, sessions run back to back: `count` of them, or on-off cycles (`off` in between) until stop.
  const bool more = spec_.kind == scenario::WorkloadKind::on_off || started_in_sequence_ < spec_.count;
  if (!spec_.rate && more) {
    const Duration pause = spec_.kind == scenario::WorkloadKind::on_off ? spec_.off : Duration::zero();
    arrival_timer_ = ctx_.executor.schedule(pause, [this] {
      arrival_timer_ = 0;
      open_one();
    });
  }
}

void WorkloadClient::finish_run() {
  finishing_ = true;
  ctx_.executor.cancel(arrival_timer_);
  arrival_timer_ = 0;
  std::vector<Run*> open;
  for (auto& [id, run] : live_) open.push_back(run.get());
  for (Run* r : open) r->end(false, scenario::kUnfinished);
}

}  // namespace dmm::sim
