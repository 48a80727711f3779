// The Orchestrator: publishes compiled policies to lock-free readers.
//
// Memory reclamation (why readers never lock, and why the writer may free the old table):
// seq_cst everywhere, so every operation below sits in one total order S.
//   reader:  e = epoch; readers[e&1] += 1; if (epoch != e) { undo; retry }   <- validation
//            p = current; ... use p ...; readers[e&1] -= 1
//   writer:  old = current.exchange(new); epoch = e+1 (the flip F); wait until readers[e&1] == 0; delete old
// A reader that validated epoch e at point v holds its count in readers[e&1] from before v. The first flip
// after v (F, by some writer W) moves the epoch away from e, so W waits for that count and therefore for
// this reader. The reader loaded `current` after v, so the only table it can hold that is ever freed while
// it runs is the one W swapped out (the ones swapped out earlier were replaced before v); W waits for it.
// Writers after W start after W returned (writer_ mutex), when this reader is already gone.
// Without the validation a reader could read e, stall past a flip, and count itself in the slot the next
// writer does not wait for. Retries only happen while a flip is in progress and are bounded by writers.
#include "dmm/orchestrator.hpp"

#include <bit>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#include "compiled_policy.hpp"

static_assert(dmm::kMaxRankedStacks <= 32, "select() keeps per-stack health in a 32-bit mask");

namespace dmm {

namespace {

std::vector<StackId> checked_stacks(std::vector<StackId> stacks) {
  if (stacks.size() > std::numeric_limits<StackIndex>::max())
    throw std::invalid_argument("too many stack instances: " + std::to_string(stacks.size()));
  std::unordered_set<std::string_view> seen;
  for (const StackId& id : stacks)
    if (!seen.insert(id).second) throw std::invalid_argument("stack '" + id + "' is listed twice");
  return stacks;
}

}  // namespace

Orchestrator::Orchestrator(std::vector<StackId> stacks, const Policy& initial)
    : stacks_(checked_stacks(std::move(stacks))),
      local_healthy_(new std::atomic<bool>[stacks_.size()]),
      rtt_ns_(new std::atomic<std::int64_t>[stacks_.size()]),
      rtt_at_ns_(new std::atomic<std::int64_t>[stacks_.size()]) {
  for (std::size_t i = 0; i < stacks_.size(); ++i) {
    local_healthy_[i].store(true);
    rtt_ns_[i].store(0);
    rtt_at_ns_[i].store(0);
  }
  // The loaders validate configs and report where the error is; reaching here with an invalid policy is a bug.
  if (auto s = validate(initial, stacks_); !s) throw std::invalid_argument("initial policy: " + s.error().message);
  policy_ = std::make_shared<const Policy>(initial);
  current_.store(new CompiledPolicy(initial, stacks_));
}

Orchestrator::~Orchestrator() { delete current_.load(); }

const CompiledPolicy* Orchestrator::acquire(unsigned& slot) const {
  for (;;) {
    const unsigned e = epoch_.load();
    readers_[e & 1].fetch_add(1);
    if (epoch_.load() == e) {
      slot = e & 1;
      return current_.load();
    }
    readers_[e & 1].fetch_sub(1);  // a flip raced us: count ourselves in the new epoch instead
  }
}

void Orchestrator::release(unsigned slot) const { readers_[slot].fetch_sub(1); }

Result<Choice> Orchestrator::select(const SessionRequest& request) const {
  unsigned slot = 0;
  const CompiledPolicy* table = acquire(slot);
  const std::uint32_t rule = table->first_match(request);
  if (rule == CompiledPolicy::kNoRule) {
    release(slot);
    // Short enough for std::string's inline buffer, so even this path does not allocate; the caller knows
    // the destination and can say more.
    return make_error(ENETUNREACH, "no rule matches");
  }
  Choice choice;
  choice.rule = static_cast<std::int32_t>(rule);
  choice.version = table->version();
  // The rule's stacks in rank order; with some of them down, healthy ones first, each group in rank order:
  // nSocket's fallback order. A fixed-size copy first (unused inline entries are zero, so the tail of
  // choice.ranked stays zero): rules rank varying numbers of stacks, and a loop exit that depends on the
  // count is one the branch predictor cannot guess.
  const auto ranked = table->stacks_of(rule);
  const std::size_t count = ranked.size();
  constexpr std::size_t kFixed = CompiledPolicy::kReadableStacks;
  std::copy_n(ranked.data(), kFixed, choice.ranked.begin());
  if (count > kFixed) std::copy(ranked.begin() + kFixed, ranked.end(), choice.ranked.begin() + kFixed);
  const std::uint32_t all = (1u << count) - 1;
  std::uint32_t healthy = all;  // bit i: ranked[i] is healthy (kMaxRankedStacks <= 32)
  if (table->any_stack_down(rule) || local_down_.load(std::memory_order_relaxed) != 0) {
    // Each stack's health is read once, so a concurrent set_local_health cannot make it appear twice or
    // not at all.
    healthy = 0;
    for (std::size_t i = 0; i < count; ++i)
      if (!table->down(ranked[i]) && local_healthy_[ranked[i]].load(std::memory_order_relaxed)) healthy |= 1u << i;
    if (healthy != all) {
      std::size_t n = 0;
      for (std::size_t i = 0; i < count; ++i)
        if (healthy & (1u << i)) choice.ranked[n++] = ranked[i];
      for (std::size_t i = 0; i < count; ++i)
        if (!(healthy & (1u << i))) choice.ranked[n++] = ranked[i];
    }
  }
  choice.race = table->race_of(rule);
  choice.attempt_delay = table->attempt_delay_of(rule);
  release(slot);  // `ranked` points into the table: nothing of it is read past here
  choice.ranked_count = static_cast<std::uint8_t>(count);
  choice.healthy_count = static_cast<std::uint8_t>(std::popcount(healthy));
  choice.all_unhealthy = healthy == 0;
  choice.stack = choice.ranked[0];  // with none healthy: the rule's first stack, as a last resort
  return choice;
}

Status Orchestrator::apply(const Policy& policy) {
  std::lock_guard lock(writer_);
  if (policy.version <= policy_->version) {
    ++counters_.rejected_stale;
    return make_error(ESTALE, "policy version " + std::to_string(policy.version) + " is not newer than " +
                                  std::to_string(policy_->version));
  }
  if (auto s = validate(policy, stacks_); !s) {
    ++counters_.rejected_invalid;
    return make_error(EINVAL, "policy version " + std::to_string(policy.version) + ": " + s.error().message);
  }
  // Everything that can throw (allocation) happens before the switch, so a failure leaves the old policy whole.
  auto copy = std::make_shared<const Policy>(policy);
  auto table = std::make_unique<CompiledPolicy>(policy, stacks_);

  const CompiledPolicy* old = current_.exchange(table.release());
  const unsigned e = epoch_.load();
  epoch_.store(e + 1);
  while (readers_[e & 1].load() != 0) std::this_thread::yield();  // grace period; see the top of this file
  delete old;

  // nRD saw a stack recover (down before, not any more): that newer evidence supersedes a local suspicion from
  // earlier set-up failures, which would otherwise keep the stack out until its local retry timer fires.
  for (const auto& id : policy_->down) {
    if (std::find(policy.down.begin(), policy.down.end(), id) != policy.down.end()) continue;
    if (auto i = index_of(id)) mark_local_health(*i, true, "policy v" + std::to_string(policy.version) + " lists it up");
  }
  policy_ = std::move(copy);
  ++counters_.applied;
  return {};
}

void Orchestrator::set_local_health(StackIndex stack, bool healthy, std::string_view why) {
  if (stack >= stacks_.size()) return;  // not a stack of ours: nothing to mark
  mark_local_health(stack, healthy, why);
}

bool Orchestrator::locally_healthy(StackIndex stack) const {
  return stack >= stacks_.size() || local_healthy_[stack].load(std::memory_order_relaxed);
}

// Relaxed is enough: health is advisory and guards no other data; a select() racing with a change may see
// either value. The exchange counts each transition exactly once, however many threads report.
void Orchestrator::mark_local_health(StackIndex stack, bool healthy, std::string_view why) {
  const bool was = local_healthy_[stack].exchange(healthy, std::memory_order_relaxed);
  if (was && !healthy) local_down_.fetch_add(1, std::memory_order_relaxed);
  if (!was && healthy) local_down_.fetch_sub(1, std::memory_order_relaxed);
  if (was != healthy && local_health_observer_) local_health_observer_(stack, healthy, why);
}

PolicyVersion Orchestrator::version() const {
  unsigned slot = 0;
  const PolicyVersion v = acquire(slot)->version();
  release(slot);
  return v;
}

std::shared_ptr<const Policy> Orchestrator::policy() const {
  std::lock_guard lock(writer_);
  return policy_;
}

std::optional<StackIndex> Orchestrator::index_of(const StackId& id) const {
  for (std::size_t i = 0; i < stacks_.size(); ++i)
    if (stacks_[i] == id) return static_cast<StackIndex>(i);
  return std::nullopt;
}

OrchestratorCounters Orchestrator::counters() const {
  std::lock_guard lock(writer_);
  return counters_;
}

void Orchestrator::set_rtt_estimate(StackIndex stack, std::optional<Duration> rtt, TimePoint at) {
  if (stack >= stacks_.size()) return;
  rtt_at_ns_[stack].store(at.count(), std::memory_order_relaxed);
  rtt_ns_[stack].store(rtt && rtt->count() > 0 ? rtt->count() : 0, std::memory_order_relaxed);
}

std::optional<RttEstimate> Orchestrator::rtt_estimate(StackIndex stack) const {
  if (stack >= stacks_.size()) return std::nullopt;
  const std::int64_t rtt = rtt_ns_[stack].load(std::memory_order_relaxed);
  if (rtt <= 0) return std::nullopt;
  return RttEstimate{Duration(rtt), TimePoint(rtt_at_ns_[stack].load(std::memory_order_relaxed))};
}

}  // namespace dmm
