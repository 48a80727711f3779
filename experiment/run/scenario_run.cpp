#include "run/scenario_run.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace dmm::sim {
namespace {

std::string where(const scenario::Scenario& sc, const scenario::Mark& m) {
  return sc.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": ";
}

}  // namespace

SessionCounts count_sessions(const std::vector<scenario::SessionRecord>& sessions) {
  SessionCounts c;
  for (const auto& s : sessions) {
    ++c.sessions;
    c.completed += s.completed;
    c.failed += !s.error.empty() && s.error != scenario::kUnfinished;
    c.unfinished += s.error == scenario::kUnfinished;
  }
  return c;
}

ScenarioRun::ScenarioRun(const scenario::Scenario& sc, Executor& clock, Recorder& recorder)
    : sc_(sc), clock_(clock), recorder_(recorder) {
  for (const auto& s : sc_.stacks)
    if (std::find(stack_names_.begin(), stack_names_.end(), s.name) == stack_names_.end())
      stack_names_.push_back(s.name);
}

ScenarioRun::~ScenarioRun() {
  clients_.clear();
  servers_.clear();
  prober_.reset();
  nrd_.reset();
  // The orchestrators outlive the policy channel that holds them (members go in reverse order).
  for (auto& node : nodes_) node.nsocket.reset();
}

Policy ScenarioRun::initial_policy() const {
  Policy p;
  p.version = 1;
  p.reason = "scenario policy";
  for (const auto& r : sc_.policy) p.rules.push_back(r.rule);
  return p;
}

Status ScenarioRun::build_control_plane(const std::vector<std::map<StackId, Stack*>>& node_stacks,
                                        const std::vector<Stack*>& echo_on, std::vector<ProbeTarget> probes,
                                        const AlgorithmRegistry* algorithms, PolicyChannel* also_publish_to) {
  const Policy initial = initial_policy();
  if (auto st = validate(initial, stack_names_); !st)
    return make_error(EINVAL, sc_.file + ": policy: " + st.error().message);
  recorder_.policy(initial);
  channel_ = std::make_unique<InProcessPolicyChannel>(clock_, sc_.nrd.sync_delay);
  PolicyChannel* publish_to = channel_.get();
  if (also_publish_to) {
    fan_out_ = std::make_unique<PolicyFanOut>(std::vector<PolicyChannel*>{channel_.get(), also_publish_to});
    publish_to = fan_out_.get();
  }
  if (sc_.nrd.enabled) {
    const AlgorithmRegistry builtins = algorithms ? AlgorithmRegistry{} : AlgorithmRegistry::with_builtins();
    auto algorithm = (algorithms ? *algorithms : builtins).create(sc_.nrd.algorithm, sc_.nrd.params);
    if (!algorithm) return make_error(EINVAL, where(sc_, sc_.nrd.mark) + algorithm.error().message);
    NrdConfig cfg;
    static_cast<EstimatorConfig&>(cfg) = sc_.nrd.estimates;
    cfg.period = sc_.nrd.period;
    nrd_ = std::make_unique<Nrd>(clock_, stack_names_, std::move(algorithm).value(), cfg, *publish_to, initial);
    nrd_->on_period = [this](TimePoint t, const StackEstimates& e) {
      recorder_.metrics(t, e);
      share_rtt_estimates(t, e);
    };
    nrd_->on_publish = [this](const Policy& p) { recorder_.policy(p); };
  }
  nodes_.resize(sc_.nodes.size());
  for (std::size_t n = 0; n < node_stacks.size() && n < nodes_.size(); ++n) {
    if (node_stacks[n].empty()) continue;
    Node& node = nodes_[n];
    node.orchestrator = std::make_unique<Orchestrator>(stack_names_, initial);
    // The node's circuit breaker moves sessions off the policy's choice: events.csv must show when and why.
    node.orchestrator->set_local_health_observer(
        [this, node_name = sc_.nodes[n]](StackIndex i, bool healthy, std::string_view why) {
          recorder_.event({clock_.now(), "local_health", stack_names_[i],
                           node_name + ": " + (healthy ? "up (" : "down (") + std::string(why) + ")"});
        });
    channel_->subscribe(*node.orchestrator);
    std::vector<Stack*> by_index(stack_names_.size(), nullptr);
    for (std::size_t i = 0; i < stack_names_.size(); ++i) {
      auto it = node_stacks[n].find(stack_names_[i]);
      if (it != node_stacks[n].end()) by_index[i] = it->second;
    }
    node.nsocket = std::make_unique<NSocket>(clock_, *node.orchestrator, by_index, nrd_.get(), sc_.nsocket);
  }
  for (Stack* stack : echo_on) {
    if (!stack) continue;
    auto echo = std::make_unique<WorkloadServer>(clock_, ServeSpec{ServeKind::echo});
    if (auto st = echo->listen(*stack, {IpAddress{}, kEchoPort}, L4Proto::tcp); !st) return st;
    servers_.push_back(std::move(echo));
  }
  if (nrd_ && sc_.nrd.probe_interval.count() > 0 && !probes.empty()) {
    ProberConfig pc;
    pc.interval = sc_.nrd.probe_interval;
    prober_ = std::make_unique<ActiveProber>(clock_, std::move(probes), *nrd_, pc);
  }
  return {};
}

void ScenarioRun::share_rtt_estimates(TimePoint at, const StackEstimates& estimates) {
  // nRD's estimates are in its stack order, which is stack_names_, the orchestrators' order too. Handed over at
  // once (a host's dmm-nrd sends them with its policies; the channel's sync_delay is not modelled for them).
  for (Node& node : nodes_) {
    if (!node.orchestrator) continue;
    for (std::size_t i = 0; i < estimates.size(); ++i)
      node.orchestrator->set_rtt_estimate(static_cast<StackIndex>(i),
                                          estimates[i].has_rtt ? std::optional(estimates[i].rtt) : std::nullopt, at);
  }
}

void ScenarioRun::forget_rtt_estimates() {
  for (Node& node : nodes_)
    if (node.orchestrator)
      for (std::size_t i = 0; i < stack_names_.size(); ++i)
        node.orchestrator->set_rtt_estimate(static_cast<StackIndex>(i), std::nullopt, clock_.now());
}

namespace {

std::string describe(const ServeSpec& spec, L4Proto proto) {
  const std::string transport = proto == L4Proto::udp ? "UDP " : "TCP ";
  if (spec.kind == ServeKind::request_response)
    return transport + "request-response (" + std::to_string(spec.request) + " B requests, " +
           std::to_string(spec.response) + " B responses)";
  return transport + "sink";
}

bool same_behaviour(const ServeSpec& a, const ServeSpec& b) {
  return a.kind == b.kind && a.request == b.request && a.response == b.response;
}

}  // namespace

Status ScenarioRun::build_workloads(const std::function<Stack*(int node)>& server_stack, CommandWorkloads commands) {
  // Workloads that send to the same port of the same node share one server there, as the clients of a real server
  // do (fifty clients of one web server): the server answers every connection alike, so they must expect the same
  // of it. A program's server (`serve:` of a command workload that runs elsewhere) takes its port for itself.
  struct PortServer {
    ServeSpec spec;
    std::string first_workload;
  };
  std::map<std::tuple<std::string, std::uint16_t, L4Proto>, PortServer> built_in;
  std::set<std::tuple<std::string, std::uint16_t, L4Proto>> programs;
  auto in_use = [&](const scenario::WorkloadSpec& w, const std::string& by) {
    return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': port " + std::to_string(w.port) +
                                  " on '" + w.to + "' is already in use" + by);
  };
  for (std::size_t i = 0; i < sc_.workloads.size(); ++i) {
    const auto& written = sc_.workloads[i];
    if (written.kind == scenario::WorkloadKind::command && commands == CommandWorkloads::run_elsewhere) {
      if (written.port != 0) {
        const auto key = std::make_tuple(written.to, written.port, L4Proto::tcp);
        if (written.port == kEchoPort) return in_use(written, " (nRD's probe echo server)");
        if (auto it = built_in.find(key); it != built_in.end())
          return in_use(written, " (workload '" + it->second.first_workload + "')");
        if (!programs.insert(key).second) return in_use(written, " (another program's server)");
      }
      continue;
    }
    if (written.kind == scenario::WorkloadKind::command && !written.simulate_as) {
      return make_error(EINVAL, where(sc_, written.mark) + "workload '" + written.name + "': kind: command runs a "
                                    "real program, which only dmm-emu can; give it `simulate_as:` (the built-in "
                                    "workload dmm-sim runs in its place) or run the scenario with dmm-emu");
    }
    const auto& w = written.simulate_as ? *written.simulate_as : written;
    const int from = sc_.node_index(w.from), to = sc_.node_index(w.to);
    NSocket* nsocket = nodes_[static_cast<std::size_t>(from)].nsocket.get();
    if (!nsocket) {
      return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': node '" + w.from +
                                    "' has no stacks to open sessions with");
    }
    ServeSpec serve{ServeKind::sink, 0, 0};
    if (w.kind == scenario::WorkloadKind::request_response) serve = {ServeKind::request_response, w.request, w.response};
    if (w.proto == L4Proto::udp) serve.datagram_ledger = &ledger_;  // UDP is measured where it arrives
    const auto key = std::make_tuple(w.to, w.port, w.proto);
    if (w.port == kEchoPort) return in_use(w, " (nRD's probe echo server)");
    if (programs.contains(key)) return in_use(w, " (a program's server)");
    if (auto it = built_in.find(key); it != built_in.end()) {
      if (!same_behaviour(it->second.spec, serve))
        return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': port " + std::to_string(w.port) +
                                      " on '" + w.to + "' is served for workload '" + it->second.first_workload +
                                      "' as a " + describe(it->second.spec, w.proto) + "; this workload needs a " +
                                      describe(serve, w.proto) + ": give it another port");
    } else {
      auto server = std::make_unique<WorkloadServer>(clock_, serve);
      if (auto st = server->listen(*server_stack(to), {IpAddress{}, w.port}, w.proto); !st) {
        return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': " + st.error().message);
      }
      servers_.push_back(std::move(server));
      built_in.emplace(key, PortServer{serve, w.name});
    }
    WorkloadContext ctx{clock_, *nsocket, scenario::node_address(to), next_session_id_,
                        [this](scenario::SessionRecord r) { recorder_.session(std::move(r)); },
                        workload_seed(sc_.seed, i)};
    clients_.push_back(std::make_unique<WorkloadClient>(w, std::move(ctx)));
  }
  return {};
}

void ScenarioRun::start() {
  if (nrd_) nrd_->start();
  if (prober_) prober_->start();
  for (auto& c : clients_) c->start(sc_.duration);
}

void ScenarioRun::apply_nrd_event(const scenario::EventSpec& e) {
  const bool run = e.nrd_running.value_or(true);
  if (nrd_) {
    if (run) {
      nrd_->start();
      if (prober_) prober_->start();
    } else {
      nrd_->stop();
      if (prober_) prober_->stop();
      forget_rtt_estimates();  // as a host's orchestrator does when it loses dmm-nrd
    }
  }
  recorder_.event({clock_.now(), "nrd", "nrd", e.as_text});
}

void ScenarioRun::stop_nrd() {
  if (prober_) prober_->stop();
  if (nrd_) nrd_->stop();
  forget_rtt_estimates();
}

void ScenarioRun::finish() {
  for (auto& c : clients_) c->finish_run();
  recorder_.sort_sessions();
  // UDP figures come from the receiving side, complete only now: datagrams arrive after their sender stopped.
  settle_udp_sessions(recorder_.sessions_to_settle(), ledger_);
}

}  // namespace dmm::sim
