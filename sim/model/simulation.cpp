// Builds the ns-3 world of a scenario and runs it: nodes and point-to-point links, the stack instances
// (ns-3 TCP/UDP bound to their link, created through the StackRegistry), one orchestrator + nSocket per
// node, nRD with its in-process policy channel and probes, workloads, scripted events and the recorder.
#include "model/simulation.hpp"

#include <algorithm>
#include <set>

#include "dmm/active_prober.hpp"
#include "dmm/nrd.hpp"
#include "dmm/nsocket.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/policy_channel.hpp"
#include "run/delivery_ledger.hpp"
#include "model/counting_scheduler.hpp"
#include "model/ns3_defaults.hpp"
#include "model/ns3_executor.hpp"
#include "model/ns3_link.hpp"
#include "model/ns3_stack.hpp"
#include "run/workload_client.hpp"
#include "run/workload_server.hpp"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"

namespace dmm::sim {
namespace {

constexpr std::uint16_t kEchoPort = 7;  // every node answers nRD's probes here
// Explicit ns-3 random streams (links use theirs from kLinkRngStreamBase = 2^20 up). ns-3 numbers automatic
// streams from a process-wide counter that Simulator::Destroy does not reset, so without these a second
// simulation in one process (the Python bindings run many) would draw different random numbers than the first.
constexpr std::int64_t kInternetRngStreamBase = std::int64_t{1} << 19;  // ARP, routing, IPv6 of every node
constexpr std::int64_t kSocketRngStreamBase = std::int64_t{1} << 24;    // per TCP socket (BBR), in creation order

std::string where(const scenario::Scenario& sc, const scenario::Mark& m) {
  return sc.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": ";
}

}  // namespace

bool RunReport::all_passed() const {
  return std::all_of(expectations.begin(), expectations.end(), [](auto& e) { return e.passed; });
}

const std::vector<std::string>& sim_stack_params() {
  static const std::vector<std::string> params{"node", "link", "tcp", "processing_delay"};
  return params;
}

class Simulation::World final : public StackWorld {
public:
  World(const scenario::Scenario& sc, StackRegistry& registry, const AlgorithmRegistry* algorithms)
      : sc_(sc), registry_(registry), algorithms_(algorithms), recorder_(sc) {}

  ~World() override {
    // Our objects hold ns-3 sockets: release them before ns-3 tears the world down.
    clients_.clear();
    servers_.clear();
    prober_.reset();
    nrd_.reset();
    for (auto& n : nodes_) {
      n.nsocket.reset();
      n.stacks.clear();
    }
    server_stacks_.clear();
    ns3::Simulator::Destroy();
  }

  Executor& executor() override { return executor_; }
  Stack* find_stack(const StackId& id) override {
    if (building_ < 0) return nullptr;
    auto& stacks = nodes_[building_].stacks;
    auto it = stacks.find(id);
    return it == stacks.end() ? nullptr : it->second.get();
  }

  Status build(const std::optional<std::filesystem::path>& pcap_dir);
  Result<RunReport> run(const RunOptions& options);
  void stop(Error why) {
    if (stopped_) return;
    stopped_ = std::move(why);
    ns3::Simulator::Stop();
  }
  // The factory behind the built-in kinds.
  Result<std::unique_ptr<Stack>> make_ns3_stack(const StackConfig& config);

private:
  struct NodeState {
    std::map<StackId, std::unique_ptr<Stack>> stacks;
    std::unique_ptr<Orchestrator> orchestrator;
    std::unique_ptr<NSocket> nsocket;
  };

  Status build_links();
  Status build_stacks();
  Status build_control_plane();
  Status build_workloads();
  Status schedule_events();
  void apply_event(const scenario::EventSpec& e);
  // Calls `report` every `step` of simulated time until the run ends (the callback outlives the run).
  void report_progress(const std::function<void(double)>& report, Duration step) {
    executor_.schedule(step, [this, &report, step] {
      ++progress_events_;
      report(to_seconds(executor_.now()));
      report_progress(report, step);
    });
  }
  Policy initial_policy() const;

  const scenario::Scenario& sc_;
  StackRegistry& registry_;
  const AlgorithmRegistry* algorithms_;  // null = the built-ins
  Recorder recorder_;
  Ns3Executor executor_;
  ns3::NodeContainer ns3_nodes_;
  std::vector<std::unique_ptr<Ns3Link>> links_;
  std::vector<std::unique_ptr<Ns3Stack>> server_stacks_;  // per node: listens on any interface
  std::vector<NodeState> nodes_;
  std::vector<StackId> stack_names_;                        // orchestrator index order
  std::multimap<StackId, Ns3Stack*> ns3_instances_;          // targets of stack fail/recover events
  std::unique_ptr<InProcessPolicyChannel> channel_;
  std::unique_ptr<Nrd> nrd_;
  std::unique_ptr<ActiveProber> prober_;
  DeliveryLedger ledger_;  // before the servers, which write into it
  std::vector<std::unique_ptr<WorkloadServer>> servers_;
  std::vector<std::unique_ptr<WorkloadClient>> clients_;
  std::uint64_t next_session_id_ = 1;
  std::uint32_t next_socket_stream_ = 0;
  // Progress ticks are the tool's, not the scenario's: left out of the event count so that summary.json does
  // not depend on whether anyone watched the run.
  std::uint64_t progress_events_ = 0;
  std::optional<Error> stopped_;
  int building_ = -1;
};

Status Simulation::World::build(const std::optional<std::filesystem::path>& pcap_dir) {
  configure_ns3_defaults();
  // The seed picks ns-3's run number (SetSeed must be non-zero); set before any random variable exists.
  ns3::RngSeedManager::SetSeed(1);
  ns3::RngSeedManager::SetRun(sc_.seed);
  ns3_nodes_.Create(static_cast<std::uint32_t>(sc_.nodes.size()));
  ns3::InternetStackHelper internet;
  internet.Install(ns3_nodes_);
  internet.AssignStreams(ns3_nodes_, kInternetRngStreamBase);
  nodes_.resize(sc_.nodes.size());

  if (auto st = build_links(); !st) return st;
  if (pcap_dir) {
    std::error_code ec;
    std::filesystem::create_directories(*pcap_dir, ec);
    if (ec) return make_error(EIO, "cannot create " + pcap_dir->string() + ": " + ec.message());
    for (std::size_t i = 0; i < links_.size(); ++i) links_[i]->enable_pcap(pcap_dir->string(), sc_.links[i].name);
  }
  if (auto st = build_stacks(); !st) return st;
  if (auto st = build_control_plane(); !st) return st;
  if (auto st = build_workloads(); !st) return st;
  return schedule_events();
}

Status Simulation::World::build_links() {
  for (std::size_t i = 0; i < sc_.links.size(); ++i) {
    const auto& l = sc_.links[i];
    Ns3LinkParams params;
    params.subnet_index = static_cast<std::uint32_t>(i);
    params.rate = l.rate;
    params.delay = l.delay;
    params.loss = l.loss;
    params.queue_packets = l.queue_packets;
    links_.push_back(std::make_unique<Ns3Link>(ns3_nodes_.Get(static_cast<std::uint32_t>(sc_.node_index(l.a))),
                                               ns3_nodes_.Get(static_cast<std::uint32_t>(sc_.node_index(l.b))), params));
  }
  // Every node listens on any interface: workloads' servers and the echo service for probes.
  for (std::size_t n = 0; n < sc_.nodes.size(); ++n) {
    Ns3StackParams p;
    p.info = {sc_.nodes[n] + "/server", "ns3", {}};
    p.node = ns3_nodes_.Get(static_cast<std::uint32_t>(n));
    p.resolve = [](const IpAddress&) { return std::optional<ns3::Ipv4Address>(); };  // listens only
    auto stack = Ns3Stack::create(std::move(p));
    if (!stack) return stack.error();
    server_stacks_.push_back(std::move(*stack));
  }
  return {};
}

Result<std::unique_ptr<Stack>> Simulation::World::make_ns3_stack(const StackConfig& config) {
  const std::string& node_name = config.params.at("node");
  const int node = sc_.node_index(node_name);
  const auto* link_spec = sc_.find_link(config.params.at("link"));
  const std::size_t link_index = static_cast<std::size_t>(link_spec - sc_.links.data());
  Ns3Link& link = *links_[link_index];
  const int side = link_spec->a == node_name ? 0 : 1;
  const int peer = sc_.node_index(side == 0 ? link_spec->b : link_spec->a);

  Ns3StackParams p;
  p.info = {config.name, config.kind, {}};
  p.node = ns3_nodes_.Get(static_cast<std::uint32_t>(node));
  p.device = side == 0 ? link.device_a() : link.device_b();
  p.local = side == 0 ? link.address_a() : link.address_b();
  const IpAddress peer_identity = scenario::node_address(peer);
  const ns3::Ipv4Address peer_address = side == 0 ? link.address_b() : link.address_a();
  // A stack reaches exactly the node at the other end of its link.
  p.resolve = [peer_identity, peer_address](const IpAddress& dst) -> std::optional<ns3::Ipv4Address> {
    if (dst == peer_identity) return peer_address;
    return std::nullopt;
  };
  p.tcp_variant = config.params.at("tcp");
  p.next_rng_stream = [this] { return kSocketRngStreamBase + next_socket_stream_++; };
  auto delay = parse_duration(config.params.at("processing_delay"));
  p.processing_delay = delay ? *delay : Duration::zero();
  auto stack = Ns3Stack::create(std::move(p));
  if (!stack) return stack.error();
  ns3_instances_.emplace(config.name, stack->get());
  return std::unique_ptr<Stack>(std::move(*stack));
}

Status Simulation::World::build_stacks() {
  for (const auto& s : sc_.stacks) {
    if (std::find(stack_names_.begin(), stack_names_.end(), s.name) == stack_names_.end()) {
      stack_names_.push_back(s.name);
    }
  }
  for (const auto& s : sc_.stacks) {
    StackConfig config{s.name, s.kind, s.params};
    const StackKind* kind = registry_.find(s.kind);
    const bool modelled = kind && std::find(kind->params.begin(), kind->params.end(), "link") != kind->params.end();
    if (modelled) {
      config.params["node"] = s.node;
      config.params["link"] = s.link;
      config.params["tcp"] = s.tcp;
      config.params["processing_delay"] = std::to_string(s.processing_delay.count()) + "ns";
    }
    building_ = sc_.node_index(s.node);
    auto stack = registry_.create(config, *this);
    building_ = -1;
    if (!stack) return make_error(EINVAL, where(sc_, s.mark) + "stack '" + s.name + "': " + stack.error().message);
    nodes_[sc_.node_index(s.node)].stacks.emplace(s.name, std::move(*stack));
  }
  return {};
}

Policy Simulation::World::initial_policy() const {
  Policy p;
  p.version = 1;
  p.reason = "scenario policy";
  for (const auto& r : sc_.policy) p.rules.push_back(r.rule);
  return p;
}

Status Simulation::World::build_control_plane() {
  const Policy initial = initial_policy();
  if (auto st = validate(initial, stack_names_); !st) {
    return make_error(EINVAL, sc_.file + ": policy: " + st.error().message);
  }
  recorder_.policy(initial);
  channel_ = std::make_unique<InProcessPolicyChannel>(executor_, sc_.nrd.sync_delay);
  if (sc_.nrd.enabled) {
    const AlgorithmRegistry builtins = algorithms_ ? AlgorithmRegistry{} : AlgorithmRegistry::with_builtins();
    auto algorithm = (algorithms_ ? *algorithms_ : builtins).create(sc_.nrd.algorithm, sc_.nrd.params);
    if (!algorithm) return make_error(EINVAL, where(sc_, sc_.nrd.mark) + algorithm.error().message);
    NrdConfig cfg;
    static_cast<EstimatorConfig&>(cfg) = sc_.nrd.estimates;
    cfg.period = sc_.nrd.period;
    nrd_ = std::make_unique<Nrd>(executor_, stack_names_, std::move(algorithm).value(), cfg, *channel_, initial);
    nrd_->on_period = [this](TimePoint t, const StackEstimates& e) { recorder_.metrics(t, e); };
    nrd_->on_publish = [this](const Policy& p) { recorder_.policy(p); };
  }
  const NSocketConfig ns_cfg = sc_.nsocket;
  std::vector<ProbeTarget> probes;
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    auto& node = nodes_[n];
    if (node.stacks.empty()) continue;
    node.orchestrator = std::make_unique<Orchestrator>(stack_names_, initial);
    // The node's circuit breaker moves sessions off the policy's choice: events.csv must show when and why.
    node.orchestrator->set_local_health_observer(
        [this, node_name = sc_.nodes[n]](StackIndex i, bool healthy, std::string_view why) {
          recorder_.event({executor_.now(), "local_health", stack_names_[i],
                           node_name + ": " + (healthy ? "up (" : "down (") + std::string(why) + ")"});
        });
    channel_->subscribe(*node.orchestrator);
    std::vector<Stack*> by_index(stack_names_.size(), nullptr);
    for (std::size_t i = 0; i < stack_names_.size(); ++i) {
      auto it = node.stacks.find(stack_names_[i]);
      if (it != node.stacks.end()) by_index[i] = it->second.get();
    }
    node.nsocket = std::make_unique<NSocket>(executor_, *node.orchestrator, by_index, nrd_.get(), ns_cfg);
    for (const auto& s : sc_.stacks) {
      if (s.node != sc_.nodes[n] || s.link.empty()) continue;
      const auto* link = sc_.find_link(s.link);
      const std::string& peer = link->a == s.node ? link->b : link->a;
      probes.push_back({node.stacks.at(s.name).get(), {scenario::node_address(sc_.node_index(peer)), kEchoPort}});
    }
  }
  // The echo service nRD's probes talk to, on every node.
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    auto echo = std::make_unique<WorkloadServer>(executor_, ServeSpec{ServeKind::echo});
    if (auto st = echo->listen(*server_stacks_[n], {IpAddress{}, kEchoPort}, L4Proto::tcp); !st) return st;
    servers_.push_back(std::move(echo));
  }
  if (nrd_ && sc_.nrd.probe_interval.count() > 0 && !probes.empty()) {
    ProberConfig pc;
    pc.interval = sc_.nrd.probe_interval;
    prober_ = std::make_unique<ActiveProber>(executor_, std::move(probes), *nrd_, pc);
  }
  return {};
}

Status Simulation::World::build_workloads() {
  std::set<std::tuple<std::string, std::uint16_t, L4Proto>> listening;
  for (std::size_t i = 0; i < sc_.workloads.size(); ++i) {
    const auto& w = sc_.workloads[i];
    const int from = sc_.node_index(w.from), to = sc_.node_index(w.to);
    if (!nodes_[from].nsocket) {
      return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': node '" + w.from +
                                    "' has no stacks to open sessions with");
    }
    if (!listening.insert({w.to, w.port, w.proto}).second || w.port == kEchoPort) {
      return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': port " + std::to_string(w.port) +
                                    " on '" + w.to + "' is already in use");
    }
    ServeSpec serve{ServeKind::sink, 0, 0};
    if (w.kind == scenario::WorkloadKind::request_response) serve = {ServeKind::request_response, w.request, w.response};
    if (w.proto == L4Proto::udp) serve.datagram_ledger = &ledger_;  // UDP is measured where it arrives
    auto server = std::make_unique<WorkloadServer>(executor_, serve);
    if (auto st = server->listen(*server_stacks_[to], {IpAddress{}, w.port}, w.proto); !st) {
      return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': " + st.error().message);
    }
    servers_.push_back(std::move(server));
    WorkloadContext ctx{executor_, *nodes_[from].nsocket, scenario::node_address(to), next_session_id_,
                        [this](scenario::SessionRecord r) { recorder_.session(std::move(r)); },
                        sc_.seed * 1000003u + i};
    clients_.push_back(std::make_unique<WorkloadClient>(w, std::move(ctx)));
  }
  return {};
}

Status Simulation::World::schedule_events() {
  for (const auto& e : sc_.events) {
    if (e.target == scenario::EventTarget::stack && e.fail && !ns3_instances_.count(e.name)) {
      return make_error(EINVAL, where(sc_, e.mark) + "stack '" + e.name +
                                    "' is not modelled by the simulator (plug-in kinds cannot fail on cue)");
    }
    executor_.schedule(e.at, [this, &e] { apply_event(e); });
  }
  return {};
}

void Simulation::World::apply_event(const scenario::EventSpec& e) {
  switch (e.target) {
    case scenario::EventTarget::link: {
      const auto* spec = sc_.find_link(e.name);
      Ns3Link& link = *links_[static_cast<std::size_t>(spec - sc_.links.data())];
      if (e.rate) link.set_rate(*e.rate);
      if (e.delay) link.set_delay(*e.delay);
      if (e.loss) link.set_loss(*e.loss);
      if (e.down) link.set_up(!*e.down);
      recorder_.event({executor_.now(), "link", e.name, e.as_text});
      break;
    }
    case scenario::EventTarget::stack: {
      auto [first, last] = ns3_instances_.equal_range(e.name);
      for (auto it = first; it != last; ++it) it->second->set_failed(e.fail.value_or(false));
      recorder_.event({executor_.now(), "stack", e.name, e.as_text});
      break;
    }
    case scenario::EventTarget::nrd: {
      const bool run = e.nrd_running.value_or(true);
      if (nrd_) {
        if (run) {
          nrd_->start();
          if (prober_) prober_->start();
        } else {
          nrd_->stop();
          if (prober_) prober_->stop();
        }
      }
      recorder_.event({executor_.now(), "nrd", "nrd", e.as_text});
      break;
    }
  }
}

Result<RunReport> Simulation::World::run(const RunOptions& options) {
  if (stopped_) return *stopped_;
  if (nrd_) nrd_->start();
  if (prober_) prober_->start();
  for (auto& c : clients_) c->start(sc_.duration);
  if (options.on_progress) {
    const Duration step = std::max<Duration>(sc_.duration / 100, std::chrono::milliseconds(1));
    report_progress(options.on_progress, step);
  }
  if (options.monitor) CountingScheduler::install(*options.monitor);
  ns3::Simulator::Stop(ns3::NanoSeconds(sc_.duration.count()));
  ns3::Simulator::Run();
  if (stopped_) return *stopped_;
  // Asked to stop before the end (Ctrl-C): what happened so far is still worth keeping, marked as partial.
  std::optional<double> interrupted_at;
  if (options.monitor && options.monitor->stop.load() && executor_.now() < sc_.duration)
    interrupted_at = to_seconds(executor_.now());
  for (auto& c : clients_) c->finish_run();
  recorder_.sort_sessions();
  // UDP figures come from the receiving side, complete only now: datagrams arrive after their sender stopped.
  settle_udp_sessions(recorder_.sessions_to_settle(), ledger_);

  RunReport report;
  // A partial run is not judged: expectations are about the whole run.
  if (!interrupted_at) report.expectations = scenario::evaluate(sc_, recorder_.sessions(), recorder_.policies());
  report.timing.interrupted_at_s = interrupted_at;
  report.stacks = recorder_.stack_totals();
  for (const auto& s : recorder_.sessions()) {
    ++report.sessions;
    report.completed += s.completed;
    report.failed += !s.error.empty() && s.error != scenario::kUnfinished;
    report.unfinished += s.error == scenario::kUnfinished;
  }
  report.policy_versions = recorder_.policies().size();
  report.sessions_table = recorder_.sessions();
  report.timing.sim_events = ns3::Simulator::GetEventCount() - progress_events_;
  report.timing.wall_s = options.wall_seconds ? options.wall_seconds() : 0;
  if (!options.out_dir.empty()) {
    const Invocation* invocation = options.invocation ? &*options.invocation : nullptr;
    if (auto st = recorder_.write(options.out_dir, report.expectations, report.timing, invocation); !st) {
      return st.error();
    }
  }
  return report;
}

void register_sim_stack_kinds(StackRegistry& registry) {
  for (const char* kind : {"kernel", "lwip-dpdk", "ns3"}) {
    (void)registry.add({kind, sim_stack_params(), [](const StackConfig& c, StackWorld& w) {
                          auto* world = dynamic_cast<Simulation::World*>(&w);
                          if (!world) {
                            return Result<std::unique_ptr<Stack>>(
                                make_error(EINVAL, "kind '" + c.kind + "' here is simulated: needs a simulation"));
                          }
                          return world->make_ns3_stack(c);
                        }});
  }
}

Result<std::unique_ptr<Simulation>> Simulation::create(const scenario::Scenario& scenario, StackRegistry& registry,
                                                       std::optional<std::filesystem::path> pcap_dir,
                                                       const AlgorithmRegistry* algorithms) {
  auto world = std::make_unique<World>(scenario, registry, algorithms);
  if (auto st = world->build(pcap_dir); !st) return st.error();
  return std::unique_ptr<Simulation>(new Simulation(std::move(world)));
}

Simulation::Simulation(std::unique_ptr<World> world) : world_(std::move(world)) {}
Simulation::~Simulation() = default;

Result<RunReport> Simulation::run(const RunOptions& options) { return world_->run(options); }
void Simulation::stop(Error why) { world_->stop(std::move(why)); }

}  // namespace dmm::sim
