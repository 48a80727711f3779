#include "dmm/nsocket.hpp"

#include <algorithm>
#include <cassert>

namespace dmm {

// ---------------------------------------------------------------- Session

Session::Session(NSocket& owner, SessionId id, const SessionRequest& request, SessionEvents& events)
    : owner_(owner), id_(id), request_(request), events_(events), opened_at_(owner.executor_.now()) {}

Session::~Session() {
  close();
  owner_.executor_.cancel(failure_timer_);
}

std::size_t Session::attempts_in_flight() const {
  std::size_t n = 0;
  for (const auto& t : tries_) n += t->connection != nullptr;
  return n;
}

void Session::start_attempts() {
  if (closed_ || established_) return;
  while (next_rank_ < choice_.ranked_count) {
    // Stacks marked down come after the healthy ones and are tried one at a time, only once nothing else runs.
    const bool healthy = next_rank_ < choice_.healthy_count;
    if (attempts_in_flight() > 0 && (!healthy || choice_.race == RaceMode::failover)) return;
    if (!start_one()) continue;  // absent or failed at once: the next one now
    if (choice_.race == RaceMode::simultaneous && next_rank_ < choice_.healthy_count) continue;
    if (choice_.race == RaceMode::staggered && next_rank_ < choice_.healthy_count) arm_stagger(*tries_.back());
    return;
  }
  if (attempts_in_flight() == 0) give_up(last_error_);
}

bool Session::start_one() {
  Orchestrator& orch = owner_.orchestrator_;
  const StackIndex idx = choice_.ranked[next_rank_++];
  const TimePoint now = owner_.executor_.now();
  stack_ = idx;
  ++decision_.attempts;
  decision_.stack = orch.stack_name(idx);
  decision_.trail.push_back({decision_.stack, "connecting", now - opened_at_});
  Stack* stack = idx < owner_.stacks_.size() ? owner_.stacks_[idx] : nullptr;
  if (!stack) {
    // Not a failure of the stack: this node simply has no such instance.
    last_error_ = make_error(ENETUNREACH, "stack '" + decision_.stack + "' is not present here");
    decision_.trail.back().outcome = "absent";
    return false;
  }
  auto attempt = std::make_unique<Try>(*this, idx, decision_.trail.size() - 1);
  attempt->started = now;
  auto connection = stack->connect(request_.dst, request_.proto, *attempt);
  if (!connection) {
    last_error_ = connection.error();
    decision_.trail.back().outcome = attempt_outcome(last_error_);
    owner_.report({.stack = decision_.stack, .at = now, .failure = true});
    owner_.note_setup_result(idx, &last_error_);
    return false;
  }
  attempt->connection = std::move(*connection);
  Try& t = *attempt;
  attempt->timeout = owner_.executor_.schedule(owner_.config_.connect_timeout, [this, &t] {
    t.timeout = 0;
    attempt_failed(t, make_error(ETIMEDOUT, "connect timed out on '" + owner_.orchestrator_.stack_name(t.stack) + "'"),
                   "connect-timeout");
  });
  tries_.push_back(std::move(attempt));
  return true;
}

void Session::arm_stagger(const Try& waited_on) {
  owner_.executor_.cancel(stagger_timer_);
  const Duration delay = owner_.attempt_delay(waited_on.stack, choice_.attempt_delay);
  stagger_timer_ = owner_.executor_.schedule(delay, [this] {
    stagger_timer_ = 0;
    start_attempts();
  });
}

void Session::end_attempt(Try& attempt, std::string outcome) {
  owner_.executor_.cancel(attempt.timeout);
  attempt.timeout = 0;
  decision_.trail[attempt.trail_index].outcome = std::move(outcome);
  if (attempt.connection) {
    attempt.connection->close();
    owner_.retire(std::move(attempt.connection));
  }
}

void Session::attempt_failed(Try& attempt, const Error& error, std::string outcome) {
  if (closed_ || !attempt.connection) return;
  last_error_ = error;
  end_attempt(attempt, std::move(outcome));
  const StackId& name = owner_.orchestrator_.stack_name(attempt.stack);
  owner_.report({.stack = name, .at = owner_.executor_.now(), .failure = true});
  owner_.note_setup_result(attempt.stack, &last_error_);
  // RFC 8305: a failed attempt does not wait out the delay, the next one starts now.
  owner_.executor_.cancel(stagger_timer_);
  stagger_timer_ = 0;
  start_attempts();
}

void Session::attempt_connected(Try& winner) {
  if (closed_ || established_ || !winner.connection) return;
  owner_.executor_.cancel(winner.timeout);
  winner.timeout = 0;
  owner_.executor_.cancel(stagger_timer_);
  stagger_timer_ = 0;
  // The others lose: closed at once (no half-open connection left at a server), and no sample for nRD, since their
  // stacks did not fail — they were slower, or started later. One that looks silent is a strike for this node's
  // circuit breaker, though: a path that went silent loses every race, and without the strikes nothing local would
  // ever stop offering it (two in a row mark it down for local_retry_after, as two failures do).
  const TimePoint won_at = owner_.executor_.now();
  for (auto& other : tries_) {
    if (other.get() == &winner || !other->connection) continue;
    const bool silent = owner_.looks_silent(other->stack, won_at - other->started, choice_.attempt_delay);
    end_attempt(*other, "lost");
    if (silent) {
      const Error unanswered = make_error(ETIMEDOUT, "no answer on '" + owner_.orchestrator_.stack_name(other->stack) +
                                                         "' within the attempt delay (lost a race)");
      owner_.note_setup_result(other->stack, &unanswered);
    }
  }
  established_ = true;
  stack_ = winner.stack;
  decision_.stack = owner_.orchestrator_.stack_name(winner.stack);
  decision_.trail[winner.trail_index].outcome = "ok";
  connection_ = std::move(winner.connection);
  connection_->set_events(*this);
  const TimePoint now = owner_.executor_.now();
  last_report_ = now;
  // A TCP handshake is one round trip: a free RTT sample for nRD.
  std::optional<Duration> rtt;
  if (request_.proto == L4Proto::tcp) rtt = now - winner.started;
  owner_.report({.stack = decision_.stack, .at = now, .rtt = rtt});
  owner_.note_setup_result(stack_, nullptr);
  events_.on_established(decision_);
}

void Session::give_up(const Error& error) {
  closed_ = true;
  owner_.live_.erase(id_);
  // Asynchronous even when every stack failed inside open(): the caller has not got the session yet.
  failure_timer_ = owner_.executor_.schedule(Duration::zero(), [this, error] {
    failure_timer_ = 0;
    events_.on_failed(error, decision_);
  });
}

void Session::on_failed(const Error& error) {
  if (closed_ || !established_) return;
  // Died after data may have moved: no silent retry on another stack, the application must know.
  report_progress(true);
  owner_.report({.stack = decision_.stack, .at = owner_.executor_.now(), .failure = true});
  final_metrics_ = connection_->metrics();
  closed_ = true;
  owner_.live_.erase(id_);
  owner_.retire(std::move(connection_));
  events_.on_failed(error, decision_);
}

void Session::on_readable() { events_.on_readable(); }
void Session::on_writable() { events_.on_writable(); }
void Session::on_peer_closed() { events_.on_peer_closed(); }

Result<std::size_t> Session::send(std::span<const std::byte> data) {
  if (!established_ || !connection_) return make_error(ENOTCONN, "session is not established");
  return connection_->send(data);
}

Result<std::size_t> Session::receive(std::span<std::byte> buffer) {
  if (!established_ || !connection_) return make_error(ENOTCONN, "session is not established");
  return connection_->receive(buffer);
}

void Session::shutdown_write() {
  if (established_ && connection_) connection_->shutdown_write();
}

ConnectionMetrics Session::metrics() const { return connection_ ? connection_->metrics() : final_metrics_; }

void Session::close() {
  owner_.executor_.cancel(stagger_timer_);
  stagger_timer_ = 0;
  // "No events follow": also not the failure of a session that gave up before the application closed it.
  owner_.executor_.cancel(failure_timer_);
  failure_timer_ = 0;
  if (closed_) return;
  closed_ = true;
  if (established_) report_progress(true);
  // Attempts still connecting are abandoned by the application, not failed by their stacks: no sample.
  for (auto& attempt : tries_)
    if (attempt->connection) {
      owner_.executor_.cancel(attempt->timeout);
      attempt->timeout = 0;
      attempt->connection->close();
      owner_.retire(std::move(attempt->connection));
    }
  if (connection_) {
    final_metrics_ = connection_->metrics();
    connection_->close();
    owner_.retire(std::move(connection_));
  }
  owner_.live_.erase(id_);
}

void Session::report_progress(bool final) {
  if (!connection_) return;
  const ConnectionMetrics m = connection_->metrics();
  const TimePoint now = owner_.executor_.now();
  if (auto s = progress_sample(decision_.stack, reported_, m, now, now - last_report_,
                               owner_.config_.min_goodput_bytes, final))
    owner_.report(*s);
  reported_ = m;
  last_report_ = now;
}

// ---------------------------------------------------------------- NSocket

NSocket::NSocket(Executor& executor, Orchestrator& orchestrator, std::vector<Stack*> stacks,
                 PathSampleSink* samples, NSocketConfig config)
    : executor_(executor),
      orchestrator_(orchestrator),
      stacks_(std::move(stacks)),
      samples_(samples),
      config_(config),
      breaker_(executor, orchestrator, {config.local_failure_threshold, config.local_retry_after}) {
  stacks_.resize(orchestrator.stacks().size(), nullptr);
}

NSocket::~NSocket() {
  assert(live_.empty() && "sessions must not outlive their NSocket");
  executor_.cancel(sample_timer_);
}

Result<std::unique_ptr<Session>> NSocket::open(const SessionRequest& request, SessionEvents& events) {
  auto choice = orchestrator_.select(request);
  if (!choice) return choice.error();
  std::unique_ptr<Session> session(new Session(*this, next_id_++, request, events));
  session->choice_ = *choice;
  session->decision_.rule = choice->rule;
  session->decision_.policy_version = choice->version;
  session->decision_.race = choice->race;
  // Stacks the orchestrator moved behind the healthy ones were passed over: say so, and whose mark it was.
  for (std::uint8_t i = choice->healthy_count; i < choice->ranked_count; ++i) {
    const StackIndex idx = choice->ranked[i];
    session->decision_.trail.push_back(
        {orchestrator_.stack_name(idx), orchestrator_.locally_healthy(idx) ? "down" : "local-down"});
  }
  live_.emplace(session->id(), session.get());
  if (!sampling_) {
    sampling_ = true;
    sample_timer_ = executor_.schedule(config_.sample_interval, [this] { sample_live(); });
  }
  session->start_attempts();
  return session;
}

Duration NSocket::attempt_delay(StackIndex waited_on, const AttemptDelay& delay) const {
  return resolve_attempt_delay(delay, fresh_rtt(waited_on));
}

std::optional<Duration> NSocket::fresh_rtt(StackIndex stack) const {
  if (auto estimate = orchestrator_.rtt_estimate(stack);
      estimate && executor_.now() - estimate->at <= config_.rtt_estimate_max_age)
    return estimate->rtt;
  return std::nullopt;
}

bool NSocket::looks_silent(StackIndex stack, Duration unanswered, const AttemptDelay& delay) const {
  return dmm::looks_silent(unanswered, delay, fresh_rtt(stack), config_.connect_timeout);
}

void NSocket::report(const PathSample& sample) {
  if (samples_) samples_->on_sample(sample);
}

void NSocket::sample_live() {
  for (auto& [id, session] : live_) {
    if (session->established()) session->report_progress(false);
  }
  if (live_.empty()) {
    sampling_ = false;
    return;
  }
  sample_timer_ = executor_.schedule(config_.sample_interval, [this] { sample_live(); });
}

void NSocket::note_setup_result(StackIndex stack, const Error* error) {
  if (error) {
    breaker_.note_failure(stack, *error);
  } else {
    breaker_.note_success(stack);
  }
}

void NSocket::retire(std::unique_ptr<Connection> connection) {
  graveyard_.bury(std::move(connection));
}

}  // namespace dmm
