// dmm-emu's run: the plan made real, dmm-linkemu started in the emulator's namespace, real stack instances (kernel
// in each stack's namespace; lwIP on its veth through net_af_packet), and — exactly as in dmm-sim's Simulation —
// one orchestrator and nSocket per client node, nRD with its in-process policy channel and probes, the workload
// clients and servers, the scenario's events and the recorder, on the epoll loop in real time.
#include "emu_run.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "dmm/active_prober.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/host_world.hpp"
#include "dmm/kernel/kernel_stack.hpp"
#include "dmm/kernel/stop_signals.hpp"
#include "dmm/lwip_dpdk/lwip_dpdk_stack_kind.hpp"
#include "dmm/nrd.hpp"
#include "dmm/nsocket.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/policy_channel.hpp"
#include "emu_network.hpp"
#include "fidelity.hpp"
#include "link_process.hpp"
#include "offset_executor.hpp"
#include "run/delivery_ledger.hpp"
#include "run/workload_client.hpp"
#include "run/workload_server.hpp"
#include "scenario/results.hpp"

namespace dmm::emu {
namespace {

constexpr std::uint16_t kEchoPort = 7;  // every server node answers nRD's probes here, as in dmm-sim
// What the link emulator may take beyond the run's end to report (it runs exactly the duration).
constexpr Duration kReportGrace = std::chrono::seconds(10);

std::string where(const scenario::Scenario& sc, const scenario::Mark& m) {
  return sc.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": ";
}

class EmuWorld {
public:
  EmuWorld(const scenario::Scenario& sc, const EmuPlan& plan, const EmuNetwork& network, kernel::EpollExecutor& loop)
      : sc_(sc), plan_(plan), network_(network), loop_(loop), clock_(loop), host_(loop), recorder_(sc) {}

  ~EmuWorld() {
    clients_.clear();
    servers_.clear();
    prober_.reset();
    nrd_.reset();
    nodes_by_name_.clear();
    server_stacks_.clear();
    stacks_.clear();
  }

  Status build() {
    if (auto st = build_stacks(); !st) return st;
    if (auto st = build_servers(); !st) return st;
    if (auto st = build_control_plane(); !st) return st;
    return build_workloads();
  }

  // From time zero (now) to the scenario's end, or until a stop signal; returns the time reached.
  double run(const kernel::StopSignals& signals) {
    clock_.restart();
    for (const auto& e : sc_.events) loop_.schedule(e.at, [this, &e] { apply_event(e); });
    if (nrd_) nrd_->start();
    if (prober_) prober_->start();
    for (auto& c : clients_) c->start(sc_.duration);
    loop_.run_until([&] { return clock_.now() >= sc_.duration || signals.received() != 0; },
                    sc_.duration + std::chrono::seconds(5));
    const double reached = to_seconds(clock_.now());
    if (prober_) prober_->stop();
    if (nrd_) nrd_->stop();
    for (auto& c : clients_) c->finish_run();
    recorder_.sort_sessions();
    sim::settle_udp_sessions(recorder_.sessions_to_settle(), ledger_);
    return reached;
  }

  sim::Recorder& recorder() { return recorder_; }

private:
  struct NodeState {
    std::map<StackId, Stack*> stacks;
    std::unique_ptr<Orchestrator> orchestrator;
    std::unique_ptr<NSocket> nsocket;
  };

  Status build_stacks() {
    for (const auto& s : sc_.stacks)
      if (std::find(stack_names_.begin(), stack_names_.end(), s.name) == stack_names_.end())
        stack_names_.push_back(s.name);
    StackRegistry registry;
    if (auto st = lwip_dpdk::register_lwip_dpdk_stack_kind(registry); !st) return st;
    for (std::size_t j = 0; j < sc_.stacks.size(); ++j) {
      const auto& s = sc_.stacks[j];
      const StackPlan& p = plan_.stacks[j];
      Result<std::unique_ptr<Stack>> stack = make_error(EINVAL, "unknown kind");
      if (s.kind == "kernel") {
        kernel::KernelStackConfig config{s.name, p.namespace_name};
        config.congestion = p.congestion;
        auto k = kernel::KernelStack::create(std::move(config), loop_);
        if (k) stack = std::unique_ptr<Stack>(std::move(*k));
        else stack = k.error();
      } else {
        // net_af_packet on the stack's veth; the vdev index keeps instances' DPDK ports apart.
        StackConfig config{s.name, "lwip-dpdk",
                           {{"vdev", "net_af_packet" + std::to_string(j) + ",iface=" + p.interface},
                            {"address", p.address.to_string() + "/24"},
                            {"gateway", p.gateway.to_string()},
                            {"netns", p.namespace_name}}};
        stack = registry.create(config, host_);
      }
      if (!stack) return make_error(stack.error().code, where(sc_, s.mark) + "stack '" + s.name + "': " +
                                                            stack.error().message);
      host_.add_stack(**stack);
      nodes_by_name_[s.node].stacks[s.name] = stack->get();
      stack_of_spec_.push_back(stack->get());
      stacks_.push_back(std::move(*stack));
    }
    return {};
  }

  Status build_servers() {
    server_stacks_.resize(sc_.nodes.size());
    for (std::size_t k = 0; k < sc_.nodes.size(); ++k) {
      if (!plan_.node_namespaces[k]) continue;
      auto stack = kernel::KernelStack::create(kernel::KernelStackConfig{sc_.nodes[k] + "/server",
                                                                         *plan_.node_namespaces[k]},
                                               loop_);
      if (!stack) return stack.error();
      server_stacks_[k] = std::move(*stack);
      auto echo = std::make_unique<sim::WorkloadServer>(clock_, sim::ServeSpec{sim::ServeKind::echo});
      if (auto st = echo->listen(*server_stacks_[k], {IpAddress{}, kEchoPort}, L4Proto::tcp); !st) return st;
      servers_.push_back(std::move(echo));
    }
    return {};
  }

  Policy initial_policy() const {
    Policy p;
    p.version = 1;
    p.reason = "scenario policy";
    for (const auto& r : sc_.policy) p.rules.push_back(r.rule);
    return p;
  }

  Status build_control_plane() {
    const Policy initial = initial_policy();
    if (auto st = validate(initial, stack_names_); !st)
      return make_error(EINVAL, sc_.file + ": policy: " + st.error().message);
    recorder_.policy(initial);
    channel_ = std::make_unique<InProcessPolicyChannel>(clock_, sc_.nrd.sync_delay);
    if (sc_.nrd.enabled) {
      // Python algorithms need the bindings' registry: dmm-emu runs the built-ins (dmm.emulate is future work).
      auto algorithm = AlgorithmRegistry::with_builtins().create(sc_.nrd.algorithm, sc_.nrd.params);
      if (!algorithm) return make_error(EINVAL, where(sc_, sc_.nrd.mark) + algorithm.error().message);
      NrdConfig cfg;
      static_cast<EstimatorConfig&>(cfg) = sc_.nrd.estimates;
      cfg.period = sc_.nrd.period;
      nrd_ = std::make_unique<Nrd>(clock_, stack_names_, std::move(algorithm).value(), cfg, *channel_, initial);
      nrd_->on_period = [this](TimePoint t, const StackEstimates& e) { recorder_.metrics(t, e); };
      nrd_->on_publish = [this](const Policy& p) { recorder_.policy(p); };
    }
    std::vector<ProbeTarget> probes;
    for (auto& [node_name, node] : nodes_by_name_) {
      node.orchestrator = std::make_unique<Orchestrator>(stack_names_, initial);
      node.orchestrator->set_local_health_observer(
          [this, name = node_name](StackIndex i, bool healthy, std::string_view why) {
            recorder_.event({clock_.now(), "local_health", stack_names_[i],
                             name + ": " + (healthy ? "up (" : "down (") + std::string(why) + ")"});
          });
      channel_->subscribe(*node.orchestrator);
      std::vector<Stack*> by_index(stack_names_.size(), nullptr);
      for (std::size_t i = 0; i < stack_names_.size(); ++i) {
        auto it = node.stacks.find(stack_names_[i]);
        if (it != node.stacks.end()) by_index[i] = it->second;
      }
      node.nsocket = std::make_unique<NSocket>(clock_, *node.orchestrator, by_index, nrd_.get(), sc_.nsocket);
    }
    for (std::size_t j = 0; j < sc_.stacks.size(); ++j) {
      const auto& s = sc_.stacks[j];
      const auto* link = sc_.find_link(s.link);
      const std::string& peer = link->a == s.node ? link->b : link->a;
      probes.push_back({stack_of_spec_[j], {scenario::node_address(sc_.node_index(peer)), kEchoPort}});
    }
    if (nrd_ && sc_.nrd.probe_interval.count() > 0 && !probes.empty()) {
      ProberConfig pc;
      pc.interval = sc_.nrd.probe_interval;
      prober_ = std::make_unique<ActiveProber>(clock_, std::move(probes), *nrd_, pc);
    }
    return {};
  }

  Status build_workloads() {
    std::set<std::tuple<std::string, std::uint16_t, L4Proto>> listening;
    for (std::size_t i = 0; i < sc_.workloads.size(); ++i) {
      const auto& w = sc_.workloads[i];
      const int to = sc_.node_index(w.to);
      auto node = nodes_by_name_.find(w.from);
      if (node == nodes_by_name_.end())
        return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': node '" + w.from +
                                      "' has no stacks to open sessions with");
      if (!listening.insert({w.to, w.port, w.proto}).second || w.port == kEchoPort)
        return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': port " + std::to_string(w.port) +
                                      " on '" + w.to + "' is already in use");
      sim::ServeSpec serve{sim::ServeKind::sink, 0, 0};
      if (w.kind == scenario::WorkloadKind::request_response)
        serve = {sim::ServeKind::request_response, w.request, w.response};
      if (w.proto == L4Proto::udp) serve.datagram_ledger = &ledger_;
      auto server = std::make_unique<sim::WorkloadServer>(clock_, serve);
      if (auto st = server->listen(*server_stacks_[static_cast<std::size_t>(to)], {IpAddress{}, w.port}, w.proto); !st)
        return make_error(EINVAL, where(sc_, w.mark) + "workload '" + w.name + "': " + st.error().message);
      servers_.push_back(std::move(server));
      sim::WorkloadContext ctx{clock_, *node->second.nsocket, scenario::node_address(to), next_session_id_,
                               [this](scenario::SessionRecord r) { recorder_.session(std::move(r)); },
                               sc_.seed * 1000003u + i};
      clients_.push_back(std::make_unique<sim::WorkloadClient>(w, std::move(ctx)));
    }
    return {};
  }

  void apply_event(const scenario::EventSpec& e) {
    switch (e.target) {
      case scenario::EventTarget::link:  // applied by the link emulator at the same time: recorded here
        recorder_.event({clock_.now(), "link", e.name, e.as_text});
        break;
      case scenario::EventTarget::stack: {
        // A real stack fails as a real one would: its interface goes down (live sessions stall, new ones fail).
        for (std::size_t j = 0; j < sc_.stacks.size(); ++j)
          if (sc_.stacks[j].name == e.name) (void)network_.set_stack_link(plan_.stacks[j], !e.fail.value_or(false));
        recorder_.event({clock_.now(), "stack", e.name, e.as_text});
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
        recorder_.event({clock_.now(), "nrd", "nrd", e.as_text});
        break;
      }
    }
  }

  const scenario::Scenario& sc_;
  const EmuPlan& plan_;
  const EmuNetwork& network_;
  kernel::EpollExecutor& loop_;
  OffsetExecutor clock_;
  kernel::HostWorld host_;
  sim::Recorder recorder_;
  std::vector<std::unique_ptr<Stack>> stacks_;
  std::vector<Stack*> stack_of_spec_;  // per Scenario::stacks entry
  std::vector<std::unique_ptr<Stack>> server_stacks_;  // per node (null for client nodes)
  std::map<std::string, NodeState> nodes_by_name_;
  std::vector<StackId> stack_names_;
  std::unique_ptr<InProcessPolicyChannel> channel_;
  std::unique_ptr<Nrd> nrd_;
  std::unique_ptr<ActiveProber> prober_;
  sim::DeliveryLedger ledger_;
  std::vector<std::unique_ptr<sim::WorkloadServer>> servers_;
  std::vector<std::unique_ptr<sim::WorkloadClient>> clients_;
  std::uint64_t next_session_id_ = 1;
};

}  // namespace

bool EmuReport::all_passed() const {
  return std::all_of(expectations.begin(), expectations.end(), [](const auto& e) { return e.passed; });
}

Result<EmuReport> run_emulation(const scenario::Scenario& sc, const EmuOptions& options) {
  if (::geteuid() != 0)
    return make_error(EPERM, "dmm-emu needs root: it creates network namespaces and veths (run it as root)");
  sweep_stale_emu_namespaces();
  auto plan = plan_emulation(sc, emu_prefix_for_this_process());
  if (!plan) return plan.error();
  auto loop = kernel::EpollExecutor::create();
  if (!loop) return loop.error();
  // Signals first: a Ctrl-C from here on ends the run in order and removes what it made.
  auto signals = kernel::StopSignals::watch(**loop);
  if (!signals) return signals.error();
  auto network = EmuNetwork::create(*plan);
  if (!network) return network.error();

  EmulatorSpec spec = plan->links;
  spec.duration = sc.duration;
  spec.seed = sc.seed;
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  const std::string spec_path = (options.out_dir / "linkemu-spec.json").string();
  const std::string log_path = (options.out_dir / "linkemu.log").string();
  auto links = LinkProcess::start(options.linkemu, plan->emulator_namespace, spec, spec_path, log_path);
  if (!links) return links.error();

  EmuWorld world(sc, *plan, **network, **loop);
  if (auto st = world.build(); !st) return st.error();
  const CpuTicks cpu_before = read_cpu_ticks();
  if (auto st = (*links)->go(); !st) return st.error();
  const double reached = world.run(**signals);
  const bool interrupted = (*signals)->received() != 0 && reached < to_seconds(sc.duration);
  const CpuTicks cpu_after = read_cpu_ticks();
  EmulatorStats stats;
  if (!interrupted) {
    auto s = (*links)->finish(kReportGrace);
    if (!s) return s.error();
    stats = *s;
  }

  EmuReport report;
  auto& recorder = world.recorder();
  if (!interrupted) report.expectations = scenario::evaluate(sc, recorder.sessions(), recorder.policies());
  if (interrupted) report.interrupted_at_s = reached;
  report.stacks = recorder.stack_totals();
  for (const auto& s : recorder.sessions()) {
    ++report.sessions;
    report.completed += s.completed;
    report.failed += !s.error.empty() && s.error != scenario::kUnfinished;
    report.unfinished += s.error == scenario::kUnfinished;
  }
  report.policy_versions = recorder.policies().size();
  report.notes = plan->notes;
  sim::RunTiming timing;
  timing.wall_s = reached;
  timing.interrupted_at_s = report.interrupted_at_s;
  const sim::Invocation* invocation = options.invocation ? &*options.invocation : nullptr;
  if (auto st = recorder.write(options.out_dir, report.expectations, timing, invocation); !st) return st.error();

  const double total = double(cpu_after.total - cpu_before.total);
  const double idle = total > 0 ? double(cpu_after.idle - cpu_before.idle) / total : -1.0;
  Fidelity fidelity = assess_fidelity(sc, stats, idle, plan->notes);
  if (interrupted) {
    fidelity.valid = false;
    fidelity.invalid_because.push_back("interrupted: the emulator's report was not collected");
    fidelity.json["valid"] = false;
    fidelity.json["reasons"] = fidelity.invalid_because;
  }
  report.valid = fidelity.valid;
  report.invalid_because = fidelity.invalid_because;
  report.wall_s = stats.wall_s;
  std::ofstream((options.out_dir / "emu.json").string()) << fidelity.json.dump(2) << "\n";
  return report;
}

}  // namespace dmm::emu
