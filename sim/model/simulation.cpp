// Builds the ns-3 world of a scenario and runs it: nodes and point-to-point links, the stack instances
// (ns-3 TCP/UDP bound to their link, created through the StackRegistry), the scripted link and stack events, and
// on them the run every world shares (run/scenario_run.hpp: orchestrators, nSockets, nRD and its probes,
// workloads) and the recorder.
#include "model/simulation.hpp"

#include <algorithm>

#include "model/counting_scheduler.hpp"
#include "model/ns3_defaults.hpp"
#include "model/ns3_executor.hpp"
#include "model/ns3_link.hpp"
#include "model/ns3_stack.hpp"
#include "model/ns3_tcp_l4.hpp"
#include "run/scenario_run.hpp"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"

namespace dmm::sim {
namespace {

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
  static const std::vector<std::string> params{"node", "link", "tcp", "processing_delay", "time_wait"};
  return params;
}

class Simulation::World final : public StackWorld {
public:
  World(const scenario::Scenario& sc, StackRegistry& registry, const AlgorithmRegistry* algorithms)
      : sc_(sc), registry_(registry), algorithms_(algorithms), recorder_(sc) {}

  ~World() override {
    // Our objects hold ns-3 sockets: release them before ns-3 tears the world down.
    run_.reset();
    for (auto& n : nodes_) n.stacks.clear();
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

  const scenario::Scenario& sc_;
  StackRegistry& registry_;
  const AlgorithmRegistry* algorithms_;  // null = the built-ins
  Recorder recorder_;
  Ns3Executor executor_;
  ns3::NodeContainer ns3_nodes_;
  std::vector<std::unique_ptr<Ns3Link>> links_;
  std::vector<std::unique_ptr<Ns3Stack>> server_stacks_;  // per node: listens on any interface
  std::vector<NodeState> nodes_;
  std::multimap<StackId, Ns3Stack*> ns3_instances_;          // targets of stack fail/recover events
  std::unique_ptr<ScenarioRun> run_;  // the control plane and workloads, as in every world
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
  install_internet_stack(ns3_nodes_);
  ns3::InternetStackHelper().AssignStreams(ns3_nodes_, kInternetRngStreamBase);
  nodes_.resize(sc_.nodes.size());
  run_ = std::make_unique<ScenarioRun>(sc_, executor_, recorder_);

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
  if (const std::string& text = config.params.at("time_wait"); !text.empty()) {
    auto time_wait = parse_duration(text);
    if (!time_wait) return make_error(EINVAL, "time_wait: " + time_wait.error().message);
    p.time_wait = *time_wait;
  }
  auto stack = Ns3Stack::create(std::move(p));
  if (!stack) return stack.error();
  ns3_instances_.emplace(config.name, stack->get());
  return std::unique_ptr<Stack>(std::move(*stack));
}

Status Simulation::World::build_stacks() {
  for (const auto& s : sc_.stacks) {
    StackConfig config{s.name, s.kind, s.params};
    const StackKind* kind = registry_.find(s.kind);
    const bool modelled = kind && std::find(kind->params.begin(), kind->params.end(), "link") != kind->params.end();
    if (modelled) {
      config.params["node"] = s.node;
      config.params["link"] = s.link;
      config.params["tcp"] = s.tcp;
      config.params["processing_delay"] = std::to_string(s.processing_delay.count()) + "ns";
      config.params["time_wait"] = s.time_wait ? std::to_string(s.time_wait->count()) + "ns" : "";
    }
    building_ = sc_.node_index(s.node);
    auto stack = registry_.create(config, *this);
    building_ = -1;
    if (!stack) return make_error(EINVAL, where(sc_, s.mark) + "stack '" + s.name + "': " + stack.error().message);
    nodes_[sc_.node_index(s.node)].stacks.emplace(s.name, std::move(*stack));
  }
  return {};
}

Status Simulation::World::build_control_plane() {
  std::vector<std::map<StackId, Stack*>> node_stacks(nodes_.size());
  std::vector<ProbeTarget> probes;
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    for (auto& [name, stack] : nodes_[n].stacks) node_stacks[n][name] = stack.get();
    for (const auto& s : sc_.stacks) {
      if (s.node != sc_.nodes[n] || s.link.empty()) continue;  // a plug-in kind without a link has no path to probe
      const auto* link = sc_.find_link(s.link);
      const std::string& peer = link->a == s.node ? link->b : link->a;
      probes.push_back({nodes_[n].stacks.at(s.name).get(), {scenario::node_address(sc_.node_index(peer)), kEchoPort}});
    }
  }
  // The echo service nRD's probes talk to, on every node.
  std::vector<Stack*> echo_on;
  for (auto& server : server_stacks_) echo_on.push_back(server.get());
  return run_->build_control_plane(node_stacks, echo_on, std::move(probes), algorithms_);
}

Status Simulation::World::build_workloads() {
  return run_->build_workloads([this](int node) { return server_stacks_[static_cast<std::size_t>(node)].get(); });
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
    case scenario::EventTarget::nrd:
      run_->apply_nrd_event(e);
      break;
  }
}

Result<RunReport> Simulation::World::run(const RunOptions& options) {
  if (stopped_) return *stopped_;
  run_->start();
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
  run_->finish();

  RunReport report;
  // A partial run is not judged: expectations are about the whole run.
  if (!interrupted_at) report.expectations = scenario::evaluate(sc_, recorder_.sessions(), recorder_.policies());
  report.timing.interrupted_at_s = interrupted_at;
  report.stacks = recorder_.stack_totals();
  const SessionCounts counts = count_sessions(recorder_.sessions());
  report.sessions = counts.sessions;
  report.completed = counts.completed;
  report.failed = counts.failed;
  report.unfinished = counts.unfinished;
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
