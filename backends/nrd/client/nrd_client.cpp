#include "dmm/nrd/nrd_client.hpp"

#include <algorithm>

#include "dmm/nrd/socket_ops.hpp"

namespace dmm::nrd {

NrdClient::NrdClient(kernel::EpollExecutor& executor, NrdClientConfig config, Orchestrator* orchestrator)
    : executor_(executor),
      config_(std::move(config)),
      orchestrator_(orchestrator),
      backoff_(config_.reconnect_min),
      jitter_(config_.jitter_seed == 0 ? 1 : config_.jitter_seed),
      silence_timeout_(config_.silence_timeout) {}

NrdClient::~NrdClient() { stop(); }

void NrdClient::start() {
  if (running_) return;
  running_ = true;
  backoff_ = config_.reconnect_min;
  connect_now();
  flush_timer_ = executor_.schedule(config_.flush_interval, [this] { flush_samples(); });
}

void NrdClient::stop() {
  if (!running_) return;
  running_ = false;
  if (orchestrator_) share_rtt_estimates({});
  welcomed_ = false;
  connection_.reset();
  for (TimerId* t : {&reconnect_timer_, &heartbeat_timer_, &flush_timer_}) {
    executor_.cancel(*t);
    *t = 0;
  }
}

void NrdClient::share_rtt_estimates(const std::vector<std::pair<StackId, Duration>>& rtt) {
  const TimePoint now = executor_.now();
  const auto& stacks = orchestrator_->stacks();
  for (std::size_t i = 0; i < stacks.size(); ++i) {
    std::optional<Duration> estimate;
    for (const auto& [stack, d] : rtt)
      if (stack == stacks[i]) estimate = d;
    orchestrator_->set_rtt_estimate(static_cast<StackIndex>(i), estimate, now);
  }
}

PolicyVersion NrdClient::version() const { return orchestrator_ ? orchestrator_->version() : received_version_; }

void NrdClient::connect_now() {
  reconnect_timer_ = 0;
  if (!running_) return;
  auto pending = start_connect(config_.address);
  if (!pending) {
    last_problem_ = pending.error().message;
    ++counters_.connect_failures;
    if (on_attempt_failed) on_attempt_failed(last_problem_);
    schedule_reconnect();
    return;
  }
  auto connection = FramedConnection::create(std::move(pending->fd), pending->in_progress, executor_, *this,
                                             config_.limits);
  if (!connection) {
    last_problem_ = connection.error().message;
    ++counters_.connect_failures;
    if (on_attempt_failed) on_attempt_failed(last_problem_);
    schedule_reconnect();
    return;
  }
  connection_ = std::move(*connection);
  last_heard_ = executor_.now();
  Hello hello;
  hello.role = config_.role;
  hello.name = config_.name;
  hello.pid = config_.pid;
  hello.version = version();
  hello.subscribe = config_.subscribe;
  hello.watch = config_.watch;
  if (orchestrator_) hello.stacks = orchestrator_->stacks();
  (void)connection_->send(encode(hello));  // queued until connected; a fresh queue always has room
  // Heartbeats start now: they also time out a daemon that accepts but never welcomes.
  executor_.cancel(heartbeat_timer_);
  heartbeat_timer_ = executor_.schedule(config_.heartbeat, [this] { tick_heartbeat(); });
}

void NrdClient::schedule_reconnect() {
  if (!running_ || reconnect_timer_ != 0) return;
  // Jittered back-off (between half and all of the current step): a daemon restart must not be met by every
  // subscriber of the host at the same instant.
  std::uniform_real_distribution<double> spread(0.5, 1.0);
  const auto delay = Duration(static_cast<Duration::rep>(static_cast<double>(backoff_.count()) * spread(jitter_)));
  backoff_ = std::min(backoff_ * 2, config_.reconnect_max);
  reconnect_timer_ = executor_.schedule(delay, [this] { connect_now(); });
}

void NrdClient::lost(const std::string& why) {
  last_problem_ = why;
  // Estimates age with the link: without a daemon there is no fresh one, and `auto` falls back to its default.
  if (orchestrator_) share_rtt_estimates({});
  const bool was_welcomed = welcomed_;
  welcomed_ = false;
  connection_.reset();
  executor_.cancel(heartbeat_timer_);
  heartbeat_timer_ = 0;
  if (was_welcomed) {
    ++counters_.disconnects;
  } else {
    ++counters_.connect_failures;
  }
  if (was_welcomed && on_link) on_link(false);
  if (!was_welcomed && on_attempt_failed) on_attempt_failed(why);
  schedule_reconnect();
}

void NrdClient::tick_heartbeat() {
  heartbeat_timer_ = 0;
  if (!connection_) return;
  if (executor_.now() - last_heard_ > silence_timeout_) {
    lost("the daemon has been silent for " + format_duration(silence_timeout_));
    return;
  }
  if (welcomed_) {
    Heartbeat hb;
    hb.version = version();
    if (orchestrator_) {
      const auto c = orchestrator_->counters();
      hb.applied = c.applied;
      hb.rejected = c.rejected_invalid;
    }
    if (!connection_->send(encode(hb))) {
      // A daemon that stops reading our small heartbeats is as good as gone.
      lost("the daemon does not read");
      return;
    }
  }
  heartbeat_timer_ = executor_.schedule(config_.heartbeat, [this] { tick_heartbeat(); });
}

void NrdClient::on_sample(const PathSample& sample) {
  pending_.push_back(sample);
  while (pending_.size() > config_.max_pending_samples) {
    pending_.pop_front();
    ++counters_.samples_dropped;
  }
}

void NrdClient::flush_samples() {
  flush_timer_ = executor_.schedule(config_.flush_interval, [this] { flush_samples(); });
  (void)flush_now();
}

bool NrdClient::flush_now() {
  while (welcomed_ && connection_ && !pending_.empty()) {
    const std::size_t n = std::min(pending_.size(), config_.samples_per_message);
    Samples batch;
    batch.samples.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    if (!connection_->send(encode(batch))) return false;  // the socket is full: the rest waits for the next flush
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    counters_.samples_sent += n;
  }
  return welcomed_ && connection_;
}

Status NrdClient::send(const Message& message) {
  if (!welcomed_ || !connection_) return make_error(ENOTCONN, "not connected to dmm-nrd");
  return connection_->send(encode(message));
}

void NrdClient::on_connected() {}

void NrdClient::on_frame(Frame frame) {
  last_heard_ = executor_.now();
  auto message = decode(frame);
  if (!message) {
    ++counters_.protocol_errors;
    lost(message.error().message);
    return;
  }
  handle(*message);
}

void NrdClient::handle(Message& message) {
  if (auto* welcome = std::get_if<Welcome>(&message)) {
    welcomed_ = true;
    ++counters_.connects;
    backoff_ = config_.reconnect_min;
    daemon_version_ = welcome->version;
    silence_timeout_ = std::max(config_.silence_timeout, 3 * Duration(std::chrono::milliseconds(welcome->heartbeat_ms)));
    if (on_link) on_link(true);
    return;
  }
  if (auto* policy = std::get_if<PolicyMessage>(&message)) {
    ++counters_.policies_received;
    daemon_version_ = std::max(daemon_version_, policy->policy.version);
    Status applied;
    if (orchestrator_) {
      applied = orchestrator_->apply(policy->policy);
      if (applied) ++counters_.applied;
      else if (applied.error().code == ESTALE) ++counters_.stale;
      else ++counters_.invalid;
    } else if (policy->policy.version > received_version_) {
      received_version_ = policy->policy.version;
      ++counters_.applied;
    } else {
      ++counters_.stale;
      applied = make_error(ESTALE, "not newer than " + std::to_string(received_version_));
    }
    if (on_policy) on_policy(policy->policy, applied);
    return;
  }
  if (auto* hb = std::get_if<Heartbeat>(&message)) {
    daemon_version_ = std::max(daemon_version_, hb->version);
    if (orchestrator_) share_rtt_estimates(hb->rtt);
    return;
  }
  if (auto* decision = std::get_if<DecisionMessage>(&message)) {
    if (on_decision) on_decision(decision->body);
    return;
  }
  if (auto* error = std::get_if<ErrorMessage>(&message)) {
    ++counters_.errors_received;
    if (on_error) on_error(*error);
    return;  // the daemon closes next; on_closed reconnects
  }
  if (std::holds_alternative<StatusMessage>(message) || std::holds_alternative<PushResult>(message)) {
    if (on_reply) on_reply(message);
    return;
  }
  // hello, samples, requests: a daemon never sends these.
  ++counters_.protocol_errors;
  lost("the daemon sent a " + std::string(to_string(type_of(message))) + " message");
}

void NrdClient::on_closed(const std::optional<Error>& why) {
  if (why && decode_problem(*why) != DecodeProblem::malformed) ++counters_.protocol_errors;
  lost(why ? why->message : "the daemon closed the connection");
}

}  // namespace dmm::nrd
