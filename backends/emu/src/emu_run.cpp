// dmm-emu's run: the plan made real, dmm-linkemu started in the emulator's namespace, real stack instances (kernel
// in each stack's namespace; lwIP on its veth through net_af_packet), and on them the run dmm-sim makes too
// (run/scenario_run.hpp: orchestrators, nSockets, nRD and its probes, workloads) with the scenario's events and
// the recorder, on the epoll loop in real time.
#include "emu_run.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/host_world.hpp"
#include "dmm/kernel/kernel_stack.hpp"
#include "dmm/kernel/stop_signals.hpp"
#include "dmm/lwip_dpdk/lwip_dpdk_stack_kind.hpp"
#include "command_workloads.hpp"
#include "emu_network.hpp"
#include "fidelity.hpp"
#include "link_process.hpp"
#include "nrd_socket_front.hpp"
#include "offset_executor.hpp"
#include "run/scenario_run.hpp"
#include "scenario/results.hpp"

namespace dmm::emu {
namespace {

// What the link emulator may take beyond the run's end to report (it runs exactly the duration).
constexpr Duration kReportGrace = std::chrono::seconds(10);

std::string where(const scenario::Scenario& sc, const scenario::Mark& m) {
  return sc.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": ";
}

class EmuWorld {
public:
  EmuWorld(const scenario::Scenario& sc, const EmuPlan& plan, const EmuNetwork& network, kernel::EpollExecutor& loop,
           const EmuOptions& options)
      : sc_(sc), plan_(plan), network_(network), loop_(loop), options_(options), clock_(loop), host_(loop),
        recorder_(sc),
        run_(std::make_unique<sim::ScenarioRun>(sc, clock_, recorder_)) {}

  ~EmuWorld() {
    commands_.reset();  // its programs' records go to the run
    run_.reset();  // its sessions and servers use the stacks
    server_stacks_.clear();
    stacks_.clear();
  }

  Status build() {
    if (auto st = build_stacks(); !st) return st;
    if (auto st = build_servers(); !st) return st;
    std::vector<ProbeTarget> probes;
    for (std::size_t j = 0; j < sc_.stacks.size(); ++j) {
      const auto& s = sc_.stacks[j];
      if (s.link.empty()) continue;  // a plug-in kind without a link has no path to probe (as in dmm-sim)
      const auto* link = sc_.find_link(s.link);
      const std::string& peer = link->a == s.node ? link->b : link->a;
      probes.push_back({stack_of_spec_[j], {scenario::node_address(sc_.node_index(peer)), sim::kEchoPort}});
    }
    std::vector<Stack*> echo_on;
    for (auto& server : server_stacks_) echo_on.push_back(server.get());
    const bool programs = std::any_of(sc_.workloads.begin(), sc_.workloads.end(),
                                      [](const auto& w) { return w.kind == scenario::WorkloadKind::command; });
    if (programs) {
      auto front = NrdSocketFront::create(nrd_socket(), loop_, clock_, run_->stack_names(),
                                          run_->initial_policy());
      if (!front) return front.error();
      nrd_front_ = std::move(*front);
    }
    if (auto st = run_->build_control_plane(node_stacks_, echo_on, std::move(probes), options_.algorithms,
                                            nrd_front_ ? &nrd_front_->channel() : nullptr);
        !st)
      return st;
    if (nrd_front_) nrd_front_->feed(run_->nrd());
    if (auto st = run_->build_workloads(
            [this](int node) { return server_stacks_[static_cast<std::size_t>(node)].get(); },
            sim::CommandWorkloads::run_elsewhere);
        !st)
      return st;
    if (!programs) return {};
    auto commands = CommandWorkloads::create(
        sc_, plan_, loop_, clock_, recorder_, *run_,
        CommandSetup{options_.out_dir, scratch_dir(), options_.dmm_run, nrd_socket()});
    if (!commands) return commands.error();
    commands_ = std::move(*commands);
    return commands_->start_servers();
  }

  // Where the programs' nRD socket and the servers' working directories live (removed by run_emulation).
  std::string scratch_dir() const { return (emu_scratch_root() / plan_.prefix).string(); }
  std::string nrd_socket() const { return scratch_dir() + "/nrd.sock"; }  // where the programs' shims reach nRD
  nlohmann::json commands_report() const { return commands_ ? commands_->report() : nlohmann::json(); }
  std::vector<std::string> commands_warnings() const {
    return commands_ ? commands_->warnings() : std::vector<std::string>{};
  }
  // What the programs' shims did with the run's nRD: how many subscribed, how many samples they reported.
  nlohmann::json programs_nrd_report() const {
    if (!nrd_front_) return nlohmann::json();
    return {{"subscribers", nrd_front_->subscribers_seen()}, {"samples", nrd_front_->samples_received()},
            {"peers_rejected", nrd_front_->peers_rejected()}};
  }

  // From time zero (now) to the scenario's end, or until a stop signal (or options.should_stop); returns the
  // time reached.
  double run(const kernel::StopSignals& signals) {
    clock_.restart();
    for (const auto& e : sc_.events) loop_.schedule(e.at, [this, &e] { apply_event(e); });
    if (options_.should_stop) ask_whether_to_stop();
    run_->start();
    if (commands_) commands_->start(sc_.duration);
    loop_.run_until([&] { return clock_.now() >= sc_.duration || signals.received() != 0 || stop_asked_; },
                    sc_.duration + std::chrono::seconds(5));
    const double reached = to_seconds(clock_.now());
    run_->stop_nrd();
    if (commands_) commands_->finish();
    run_->finish();
    return reached;
  }

  sim::Recorder& recorder() { return recorder_; }
  bool stopped_early() const { return stop_asked_; }

private:
  Status build_stacks() {
    StackRegistry registry;
    if (auto st = lwip_dpdk::register_lwip_dpdk_stack_kind(registry); !st) return st;
    node_stacks_.resize(sc_.nodes.size());
    for (std::size_t j = 0; j < sc_.stacks.size(); ++j) {
      const auto& s = sc_.stacks[j];
      const StackPlan& p = plan_.stacks[j];
      Result<std::unique_ptr<Stack>> stack = make_error(EINVAL, "unknown kind");
      if (s.kind != "kernel" && s.kind != "lwip-dpdk") {
        // A plug-in kind, from the scenario's registry, on the instances made before it (scenario order).
        if (options_.plugin_kinds) stack = options_.plugin_kinds->create(StackConfig{s.name, s.kind, s.params}, host_);
        else stack = make_error(EINVAL, "kind '" + s.kind + "' comes from a plug-in, and this run has no registry");
      } else if (s.kind == "kernel") {
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
      node_stacks_[static_cast<std::size_t>(sc_.node_index(s.node))][s.name] = stack->get();
      stack_of_spec_.push_back(stack->get());
      stacks_.push_back(std::move(*stack));
    }
    return {};
  }

  // The servers' side of every node without stacks: workloads' servers and the probe echo listen here.
  Status build_servers() {
    server_stacks_.resize(sc_.nodes.size());
    for (std::size_t k = 0; k < sc_.nodes.size(); ++k) {
      if (!plan_.node_namespaces[k]) continue;
      auto stack = kernel::KernelStack::create(kernel::KernelStackConfig{sc_.nodes[k] + "/server",
                                                                         *plan_.node_namespaces[k]},
                                               loop_);
      if (!stack) return stack.error();
      server_stacks_[k] = std::move(*stack);
    }
    return {};
  }

  void ask_whether_to_stop() {
    loop_.schedule(std::chrono::milliseconds(100), [this] {
      if (options_.should_stop()) {
        stop_asked_ = true;
      } else if (!stop_asked_) {
        ask_whether_to_stop();
      }
    });
  }

  void apply_event(const scenario::EventSpec& e) {
    switch (e.target) {
      case scenario::EventTarget::link:  // applied by the link emulator at the same time
        if (e.down) {  // ... and, for down/up, on the hosts' interfaces, as dmm-sim's link takes its ends down
          for (std::size_t i = 0; i < sc_.links.size(); ++i)
            if (sc_.links[i].name == e.name) (void)network_.set_link_hosts(i, !*e.down);
          for (std::size_t j = 0; j < sc_.stacks.size(); ++j)
            if (sc_.stacks[j].link == e.name) tell_user_space_stack(j, !*e.down);
        }
        recorder_.event({clock_.now(), "link", e.name, e.as_text});
        break;
      case scenario::EventTarget::stack: {
        // A real stack fails as a real one would: its interface goes down (live sessions stall, new ones fail).
        for (std::size_t j = 0; j < sc_.stacks.size(); ++j)
          if (sc_.stacks[j].name == e.name) {
            (void)network_.set_stack_link(plan_.stacks[j], !e.fail.value_or(false));
            tell_user_space_stack(j, !e.fail.value_or(false));
          }
        recorder_.event({clock_.now(), "stack", e.name, e.as_text});
        break;
      }
      case scenario::EventTarget::nrd:
        run_->apply_nrd_event(e);
        break;
    }
  }

  // A user-space instance reads its veth through a packet socket, which never reports the link: tell it, or its
  // connects would time out where a kernel instance's fail at once.
  void tell_user_space_stack(std::size_t j, bool up) {
    if (sc_.stacks[j].kind == "lwip-dpdk") (void)lwip_dpdk::set_lwip_dpdk_link(*stack_of_spec_[j], up);
  }

  const scenario::Scenario& sc_;
  const EmuPlan& plan_;
  const EmuNetwork& network_;
  kernel::EpollExecutor& loop_;
  const EmuOptions& options_;
  bool stop_asked_ = false;
  OffsetExecutor clock_;
  kernel::HostWorld host_;
  sim::Recorder recorder_;
  std::vector<std::unique_ptr<Stack>> stacks_;
  std::vector<Stack*> stack_of_spec_;                  // per Scenario::stacks entry
  std::vector<std::map<StackId, Stack*>> node_stacks_;  // per node, by name
  std::vector<std::unique_ptr<Stack>> server_stacks_;  // per node (null for client nodes)
  std::unique_ptr<NrdSocketFront> nrd_front_;          // for the programs of command workloads (else null)
  std::unique_ptr<sim::ScenarioRun> run_;
  std::unique_ptr<CommandWorkloads> commands_;
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
  // The run's scratch directory (programs' nRD socket, servers' files): made now, gone with the run.
  const std::filesystem::path scratch = emu_scratch_root() / plan->prefix;
  std::error_code scratch_ec;
  std::filesystem::create_directories(scratch, scratch_ec);
  if (scratch_ec) return make_error(EIO, "cannot create " + scratch.string() + ": " + scratch_ec.message());
  struct RemoveScratch {
    std::filesystem::path path;
    ~RemoveScratch() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } remove_scratch{scratch};

  EmulatorSpec spec = plan->links;
  spec.duration = sc.duration;
  spec.seed = sc.seed;
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (options.pcap) {
    spec.pcap_dir = std::filesystem::absolute(options.out_dir / "pcap").string();
    std::filesystem::create_directories(spec.pcap_dir, ec);
    if (ec) return make_error(EIO, "cannot create " + spec.pcap_dir + ": " + ec.message());
  }
  const std::string spec_path = (options.out_dir / "linkemu-spec.json").string();
  const std::string log_path = (options.out_dir / "linkemu.log").string();
  auto links = LinkProcess::start(options.linkemu, plan->emulator_namespace, spec, spec_path, log_path);
  if (!links) return links.error();

  EmuWorld world(sc, *plan, **network, **loop, options);
  if (auto st = world.build(); !st) return st.error();
  const CpuTicks cpu_before = read_cpu_ticks();
  if (auto st = (*links)->go(); !st) return st.error();
  const double reached = world.run(**signals);
  const bool interrupted =
      ((*signals)->received() != 0 || world.stopped_early()) && reached < to_seconds(sc.duration);
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
  const sim::SessionCounts counts = sim::count_sessions(recorder.sessions());
  report.sessions = counts.sessions;
  report.completed = counts.completed;
  report.failed = counts.failed;
  report.unfinished = counts.unfinished;
  report.policy_versions = recorder.policies().size();
  report.notes = plan->notes;
  for (const auto& w : world.commands_warnings()) report.notes.push_back(w);
  sim::RunTiming timing;
  timing.wall_s = reached;
  timing.interrupted_at_s = report.interrupted_at_s;
  const sim::Invocation* invocation = options.invocation ? &*options.invocation : nullptr;
  if (auto st = recorder.write(options.out_dir, report.expectations, timing, invocation); !st) return st.error();

  const double total = double(cpu_after.total - cpu_before.total);
  const double idle = total > 0 ? double(cpu_after.idle - cpu_before.idle) / total : -1.0;
  Fidelity fidelity = assess_fidelity(sc, stats, idle, report.notes);
  if (interrupted) {
    fidelity.valid = false;
    fidelity.invalid_because.push_back("interrupted: the emulator's report was not collected");
    fidelity.json["valid"] = false;
    fidelity.json["reasons"] = fidelity.invalid_because;
  }
  if (auto commands = world.commands_report(); !commands.is_null()) fidelity.json["commands"] = commands;
  if (auto nrd = world.programs_nrd_report(); !nrd.is_null()) fidelity.json["programs_nrd"] = nrd;
  report.valid = fidelity.valid;
  report.invalid_because = fidelity.invalid_because;
  report.wall_s = stats.wall_s;
  std::ofstream((options.out_dir / "emu.json").string()) << fidelity.json.dump(2) << "\n";
  return report;
}

}  // namespace dmm::emu
