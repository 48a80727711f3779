#pragma once
// The client side of a scenario workload: opens sessions through nSocket (so every session is a policy
// decision), moves the workload's bytes and records one SessionRecord per session. No ns-3 in it.
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "dmm/graveyard.hpp"
#include "dmm/nsocket.hpp"
#include "run/poisson_arrivals.hpp"
#include "scenario/results.hpp"
#include "scenario/scenario.hpp"

namespace dmm::sim {

struct WorkloadContext {
  Executor& executor;
  NSocket& nsocket;
  IpAddress dst;                    // the destination node's identity address
  std::uint64_t& next_session_id;   // shared by all workloads: ids in creation order
  std::function<void(scenario::SessionRecord)> record;
  std::uint64_t seed;               // for this workload's arrivals
};

class WorkloadClient {
public:
  WorkloadClient(const scenario::WorkloadSpec& spec, WorkloadContext context);
  ~WorkloadClient();
  WorkloadClient(const WorkloadClient&) = delete;
  WorkloadClient& operator=(const WorkloadClient&) = delete;

  void start(TimePoint run_end);
  // Records every session still open as not completed ("unfinished at end of run").
  void finish_run();
  std::uint64_t opened() const { return opened_; }

private:
  class Run;
  void open_one();
  void schedule_next_arrival();
  void ended(Run* run);

  const scenario::WorkloadSpec& spec_;
  WorkloadContext ctx_;
  std::optional<PoissonArrivals> arrivals_;  // with a rate
  TimePoint stop_{0};
  std::map<std::uint64_t, std::unique_ptr<Run>> live_;
  std::uint32_t started_in_sequence_ = 0;
  std::uint64_t opened_ = 0;
  TimerId arrival_timer_ = 0;
  bool finishing_ = false;
  Graveyard<Run> graveyard_;  // last member: ended runs go first (initialised in the .cpp: Run is incomplete here)
};

}  // namespace dmm::sim
