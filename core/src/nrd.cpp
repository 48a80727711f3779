#include "dmm/nrd.hpp"

#include <algorithm>

namespace dmm {
namespace {

double ewma(double old_value, double sample, double alpha) { return old_value + alpha * (sample - old_value); }

std::vector<StackId> unhealthy_stacks(const StackEstimates& estimates) {
  std::vector<StackId> down;
  for (const auto& e : estimates) {
    if (!e.healthy) down.push_back(e.stack);
  }
  return down;
}

}  // namespace

Nrd::Nrd(Executor& executor, std::vector<StackId> stacks, std::unique_ptr<PolicyAlgorithm> algorithm,
         NrdConfig config, PolicyChannel& channel, const Policy& initial)
    : executor_(executor),
      algorithm_(std::move(algorithm)),
      config_(config),
      channel_(channel),
      current_(std::make_shared<const Policy>(initial)) {
  for (auto& id : stacks) {
    index_.emplace(id, estimates_.size());
    StackEstimate e;
    e.stack = std::move(id);
    estimates_.push_back(std::move(e));
  }
  evidence_.resize(estimates_.size());
}

Nrd::~Nrd() { stop(); }

void Nrd::start() {
  if (running_) return;
  running_ = true;
  schedule_next();
}

void Nrd::stop() {
  if (!running_) return;
  running_ = false;
  executor_.cancel(timer_);
}

void Nrd::schedule_next() {
  timer_ = executor_.schedule(config_.period, [this] {
    decide_now();
    if (running_) schedule_next();
  });
}

StackEstimate* Nrd::find(const StackId& id) {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &estimates_[it->second];
}

void Nrd::on_sample(const PathSample& sample) {
  if (!running_) return;  // a stopped daemon hears nothing
  StackEstimate* e = find(sample.stack);
  if (!e) return;
  Evidence& seen = evidence_[static_cast<std::size_t>(e - estimates_.data())];
  e->last_sample = sample.at;
  if (sample.failure) {
    ++e->failures;
    if (e->failures >= config_.failure_threshold) e->healthy = false;
    return;
  }
  const double a = config_.ewma_alpha;
  if (sample.segments_sent > 0) {
    const double loss = std::min(1.0, double(sample.retransmits) / double(sample.segments_sent));
    // From 0 even after the estimate was forgotten: "no loss seen" is the prior, as for a stack never measured.
    e->loss = ewma(e->has_loss ? e->loss : 0.0, loss, a);
    e->has_loss = true;
    seen.loss = sample.at;
  }
  // Only evidence of traffic getting through (a round trip, bytes delivered) proves the stack healthy; a sample
  // with neither (a stalled connection's report) says nothing about health.
  const bool progress = (sample.rtt && sample.rtt->count() > 0) || sample.delivered > 0;
  if (!progress) return;
  e->failures = 0;
  e->healthy = true;
  if (sample.rtt && sample.rtt->count() > 0) {
    e->rtt = e->has_rtt ? Duration(static_cast<Duration::rep>(ewma(double(e->rtt.count()),
                                                                   double(sample.rtt->count()), a)))
                        : *sample.rtt;
    e->has_rtt = true;
    seen.rtt = sample.at;
  }
  if (sample.delivered > 0 && sample.interval.count() > 0) {
    const double bps = double(sample.delivered) * 8.0 / to_seconds(sample.interval);
    e->goodput.value = e->has_goodput ? ewma(e->goodput.value, bps, a) : bps;
    e->has_goodput = true;
    seen.goodput = sample.at;
  }
  if (sample.acked_backlogged > 0 && sample.interval.count() > 0) {
    add_capacity_sample(seen, sample.at, double(sample.acked_backlogged) * 8.0 / to_seconds(sample.interval));
    e->has_capacity = true;
    e->capacity.value = seen.capacity.front().second;
  }
}

void Nrd::add_capacity_sample(Evidence& seen, TimePoint at, double bps) {
  // A monotonic deque: an older sample that is not above the new one can never be the window's maximum again.
  while (!seen.capacity.empty() && seen.capacity.back().second <= bps) seen.capacity.pop_back();
  seen.capacity.emplace_back(at, bps);
}

void Nrd::forget_stale(TimePoint now) {
  slide_capacity_windows(now);
  if (config_.expire_after <= Duration::zero()) return;
  for (std::size_t i = 0; i < estimates_.size(); ++i) {
    StackEstimate& e = estimates_[i];
    const Evidence& seen = evidence_[i];
    if (e.has_rtt && now - seen.rtt >= config_.expire_after) {
      e.has_rtt = false;
      e.rtt = Duration::zero();
    }
    if (e.has_goodput && now - seen.goodput >= config_.expire_after) {
      e.has_goodput = false;
      e.goodput = BitsPerSecond{};
    }
    if (e.has_loss && now - seen.loss >= config_.expire_after) {
      e.has_loss = false;
      e.loss = 0;
    }
  }
}

void Nrd::slide_capacity_windows(TimePoint now) {
  for (std::size_t i = 0; i < estimates_.size(); ++i) {
    auto& window = evidence_[i].capacity;
    while (!window.empty() && now - window.front().first >= config_.capacity_window) window.pop_front();
    estimates_[i].has_capacity = !window.empty();
    estimates_[i].capacity.value = window.empty() ? 0.0 : window.front().second;
  }
}

void Nrd::decide_now() {
  const TimePoint now = executor_.now();
  // An unhealthy stack that nobody has heard of for a while gets another chance: otherwise a stack that was
  // down once would never be tried again when no probes run.
  for (auto& e : estimates_) {
    if (!e.healthy && now - e.last_sample >= config_.retry_after) {
      e.healthy = true;
      e.failures = 0;
    }
  }
  forget_stale(now);
  ++decisions_;
  Policy next = algorithm_->decide(estimates_, *current_);
  next.down = unhealthy_stacks(estimates_);  // health is nRD's finding, not the algorithm's choice
  if (!same_decisions(next, *current_)) {
    next.version = current_->version + 1;
    if (next.reason.empty() || next.reason == current_->reason) {
      next.reason = next.down != current_->down ? "health changed" : "ranking changed";
    }
    publish(std::move(next));
  }
  if (on_period) on_period(now, estimates_);
}

const Policy& Nrd::publish_now(Policy policy, PolicyVersion at_least) {
  policy.version = std::max(current_->version + 1, at_least);
  if (policy.reason.empty()) policy.reason = "published on request";
  publish(std::move(policy));
  return *current_;
}

void Nrd::publish(Policy next) {
  next.time = executor_.now();
  current_ = std::make_shared<const Policy>(std::move(next));
  channel_.publish(current_);
  if (on_publish) on_publish(*current_);
}

}  // namespace dmm
