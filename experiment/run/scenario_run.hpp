#pragma once
// What a scenario run is in every world, once its stack instances exist: one orchestrator and nSocket per node
// with stacks, nRD with its in-process policy channel and probes, the probe echo and the workloads' servers and
// clients, nRD's scripted stop/start, and the end of the run. dmm-sim (sim/model/simulation.cpp) gives it ns-3
// stacks and ns-3's clock; dmm-emu (backends/emu) real stacks and the epoll loop's. The worlds differ in how they
// make stacks and links, never in this.
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "dmm/active_prober.hpp"
#include "dmm/nrd.hpp"
#include "dmm/nsocket.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/policy_channel.hpp"
#include "run/delivery_ledger.hpp"
#include "run/recorder.hpp"
#include "run/workload_client.hpp"
#include "run/workload_server.hpp"
#include "scenario/scenario.hpp"

namespace dmm::sim {

inline constexpr std::uint16_t kEchoPort = 7;  // every server node answers nRD's probes here

// Session counts of a finished run, as the tools print them and summary.json has them.
struct SessionCounts {
  std::uint64_t sessions = 0, completed = 0, failed = 0, unfinished = 0;
};
SessionCounts count_sessions(const std::vector<scenario::SessionRecord>& sessions);

// What build_workloads does with `kind: command` workloads: dmm-sim runs their `simulate_as:` (and refuses one
// without it, naming it); dmm-emu runs the programs itself (backends/emu) and only reserves their ports here.
enum class CommandWorkloads { simulate, run_elsewhere };

class ScenarioRun {
public:
  // `clock` is the run's: its now() is the scenario's time. Both must outlive the run.
  ScenarioRun(const scenario::Scenario& sc, Executor& clock, Recorder& recorder);
  ~ScenarioRun();  // clients and servers first: they hold connections of the nSockets' stacks
  ScenarioRun(const ScenarioRun&) = delete;
  ScenarioRun& operator=(const ScenarioRun&) = delete;

  // The stack names in the orchestrators' index order (first appearance in the scenario).
  const std::vector<StackId>& stack_names() const { return stack_names_; }

  // nRD (its algorithm from `algorithms`, or the built-ins when null), and per node with stacks
  // (`node_stacks[k]`, by name) an orchestrator and an nSocket; the probe echo on every stack of `echo_on` (null
  // entries skipped); probes to `probes`. EINVAL naming the scenario line for a bad policy or algorithm.
  // nRD also publishes to `also_publish_to` when given (dmm-emu's programs under dmm-run subscribe there).
  Status build_control_plane(const std::vector<std::map<StackId, Stack*>>& node_stacks,
                             const std::vector<Stack*>& echo_on, std::vector<ProbeTarget> probes,
                             const AlgorithmRegistry* algorithms, PolicyChannel* also_publish_to = nullptr);
  // Each workload's server on `server_stack(node)` of its destination and its client on its source's nSocket.
  Status build_workloads(const std::function<Stack*(int node)>& server_stack,
                         CommandWorkloads commands = CommandWorkloads::simulate);

  // nRD (null when the scenario turns it off): where samples from outside the run's nSockets go.
  Nrd* nrd() { return nrd_.get(); }
  // The initial policy (version 1, the scenario's `policy:`).
  Policy initial_policy() const;
  // A session number no other session of the run has (sessions.csv `session`).
  std::uint64_t next_session_id() { return next_session_id_++; }

  // Time zero: nRD and its probes start, the workloads' clients start.
  void start();
  // A scenario `nrd: stop|start` event, recorded.
  void apply_nrd_event(const scenario::EventSpec& e);
  // Stops nRD and its probes (nothing recorded): for a world that keeps running after the run.
  void stop_nrd();
  // The end: open sessions become "unfinished", UDP sessions are settled from what arrived.
  void finish();

private:
  // Gives every node's orchestrator nRD's RTT estimates, for `attempt_delay: auto`.
  void share_rtt_estimates(TimePoint at, const StackEstimates& estimates);
  // nRD stopped: there is no fresh estimate (a host's orchestrator forgets them with its link to dmm-nrd).
  void forget_rtt_estimates();

  const scenario::Scenario& sc_;
  Executor& clock_;
  Recorder& recorder_;
  std::vector<StackId> stack_names_;
  struct Node {
    std::unique_ptr<Orchestrator> orchestrator;
    std::unique_ptr<NSocket> nsocket;
  };
  std::vector<Node> nodes_;  // per scenario node; empty for nodes without stacks
  std::unique_ptr<InProcessPolicyChannel> channel_;
  std::unique_ptr<PolicyFanOut> fan_out_;  // channel_ and the caller's, when it gave one
  std::unique_ptr<Nrd> nrd_;
  std::unique_ptr<ActiveProber> prober_;
  DeliveryLedger ledger_;  // before the servers, which write into it
  std::vector<std::unique_ptr<WorkloadServer>> servers_;
  std::vector<std::unique_ptr<WorkloadClient>> clients_;
  std::uint64_t next_session_id_ = 1;
};

}  // namespace dmm::sim
