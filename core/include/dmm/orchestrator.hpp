#pragma once
// The local policy table. `select` is called by any thread (the preload shim's application threads) while
// `apply` installs new versions; readers never lock or allocate.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "dmm/policy.hpp"
#include "dmm/result.hpp"
#include "dmm/session.hpp"

namespace dmm {

using StackIndex = std::uint16_t;  // position in the orchestrator's stack table (fixed at construction)

struct Choice {
  StackIndex stack = 0;          // the first healthy stack of the rule (or the first one if none is healthy)
  std::int32_t rule = -1;        // index of the deciding rule in the policy
  PolicyVersion version = 0;     // policy version that decided
  bool all_unhealthy = false;    // every stack of the rule was down; `stack` is a last resort
  // The rule's stacks, healthy ones first in rank order, then the unhealthy ones: nSocket's fallback order.
  std::array<StackIndex, kMaxRankedStacks> ranked{};
  std::uint8_t ranked_count = 0;
  // ranked[0, healthy_count) are healthy; the rest were marked down (by the policy or locally) and moved to the
  // back: nSocket records them as passed over, since that is a decision the policy alone does not show.
  std::uint8_t healthy_count = 0;
  RaceMode race = RaceMode::staggered;  // the rule's: how nSocket tries the ranked stacks
  AttemptDelay attempt_delay;           // the rule's (nullopt: auto)
};

// nRD's RTT estimate of a stack, as an orchestrator last heard it, and when nRD made it (its age decides
// whether `attempt_delay: auto` still trusts it).
struct RttEstimate {
  Duration rtt{0};
  TimePoint at{0};
};

struct OrchestratorCounters {
  std::uint64_t applied = 0;
  std::uint64_t rejected_stale = 0;
  std::uint64_t rejected_invalid = 0;
};

class CompiledPolicy;

class Orchestrator {
public:
  // `stacks`: every stack instance this orchestrator may choose from. `initial` must be valid for them.
  Orchestrator(std::vector<StackId> stacks, const Policy& initial);
  ~Orchestrator();
  Orchestrator(const Orchestrator&) = delete;
  Orchestrator& operator=(const Orchestrator&) = delete;

  // Lock-free, allocation-free; ENETUNREACH when no rule matches.
  Result<Choice> select(const SessionRequest& request) const;

  // Installs `policy` if it is newer than the current one and well-formed; otherwise counts and rejects it
  // (ESTALE for an old version, EINVAL for an ill-formed one) and keeps serving the current policy.
  Status apply(const Policy& policy);

  // Local health (e.g. nSocket saw set-up failures): combined with the policy's `down` list. A new policy that
  // lists a stack as up again after listing it down clears its local mark. `why` goes to the observer.
  void set_local_health(StackIndex stack, bool healthy, std::string_view why = {});
  bool locally_healthy(StackIndex stack) const;
  // Told of every change of a stack's local mark (not of a mark it already had), on the thread that made it,
  // with the reason: a local decision that moves sessions off the policy's first choice must leave a trace
  // (the simulator writes it to events.csv). Set it before other threads use the orchestrator.
  using LocalHealthObserver = std::function<void(StackIndex stack, bool healthy, std::string_view why)>;
  void set_local_health_observer(LocalHealthObserver observer) { local_health_observer_ = std::move(observer); }

  // nRD's RTT estimates, for `attempt_delay: auto`: nRD in process (simulation) or dmm-nrd (hosts) hands them
  // over; nullopt `rtt` clears a stack's. Any thread; readers never lock.
  void set_rtt_estimate(StackIndex stack, std::optional<Duration> rtt, TimePoint at);
  std::optional<RttEstimate> rtt_estimate(StackIndex stack) const;

  PolicyVersion version() const;
  std::shared_ptr<const Policy> policy() const;  // the policy in force (writer side; takes a mutex)
  const std::vector<StackId>& stacks() const { return stacks_; }
  const StackId& stack_name(StackIndex i) const { return stacks_[i]; }
  std::optional<StackIndex> index_of(const StackId& id) const;
  OrchestratorCounters counters() const;

private:
  const CompiledPolicy* acquire(unsigned& slot) const;
  void release(unsigned slot) const;

  const std::vector<StackId> stacks_;
  // Readers announce themselves in the reader count of the current epoch, then load `current_`; a writer
  // swaps `current_`, flips the epoch and waits until the old epoch has no readers before freeing the old
  // table. A two-epoch grace period: readers never block, the (rare) writer does.
  mutable std::atomic<const CompiledPolicy*> current_{nullptr};
  mutable std::atomic<unsigned> epoch_{0};
  mutable std::array<std::atomic<std::uint64_t>, 2> readers_{};
  std::unique_ptr<std::atomic<bool>[]> local_healthy_;
  // How many entries of local_healthy_ are false: while zero, select() need not read them one by one.
  std::atomic<std::uint32_t> local_down_{0};
  void mark_local_health(StackIndex stack, bool healthy, std::string_view why);
  LocalHealthObserver local_health_observer_;
  // Per stack: nRD's RTT estimate in ns (0: none) and when it was made. Two stores, not one: a reader that sees
  // a new value with the old time (or the reverse) only misjudges the estimate's age by one nRD period.
  std::unique_ptr<std::atomic<std::int64_t>[]> rtt_ns_;
  std::unique_ptr<std::atomic<std::int64_t>[]> rtt_at_ns_;

  mutable std::mutex writer_;  // serializes apply(); never taken by select()
  std::shared_ptr<const Policy> policy_;
  OrchestratorCounters counters_;
};

}  // namespace dmm
