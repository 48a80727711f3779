// dmm-sim-bench SCENARIO.yaml [--json FILE] [--no-baseline]
// How much does DMM cost inside a simulation? Runs the scenario with DMM (nSocket decisions, nRD, probes,
// workloads), then replays *the same traffic* — every session's bytes in both directions, at the same start
// time, over the link of the stack that carried it — as plain ns-3 applications (BulkSend + PacketSink) in the
// same process, and prints events/s, simulated seconds per wall second and the wall-time ratio.
// The baseline has no request/response turn-around and no probes: it is the floor DMM's run is compared with.
// It is fair only for scenarios of few long sessions (scenarios/bench-bulk.yaml): PacketSink never closes the
// sockets it accepts, so with thousands of short sessions the baseline's endpoint table (stock ns-3, a list
// scanned per packet) grows without bound and the baseline, not DMM, becomes the slow side. For those
// (scenarios/site.yaml, bench-rpc.yaml) --no-baseline prints DMM's own figures only.
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "run/build_info.hpp"
#include "model/ns3_defaults.hpp"
#include "model/ns3_link.hpp"
#include "model/simulation.hpp"
#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"

namespace po = boost::program_options;
using namespace dmm;

namespace {

struct Figures {
  double wall_s = 0;
  std::uint64_t events = 0;
  double sim_s = 0;
  double events_per_s() const { return wall_s > 0 ? double(events) / wall_s : 0; }
  double speed() const { return wall_s > 0 ? sim_s / wall_s : 0; }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The same topology and the recorded sessions' bytes as BulkSend/PacketSink pairs.
Figures run_plain_ns3(const scenario::Scenario& sc, const std::vector<scenario::SessionRecord>& sessions) {
  sim::configure_ns3_defaults();
  // BulkSend's sockets take the node's default TCP type: make it the scenario's variant when all stacks agree,
  // so both runs use the same congestion control (Cubic and NewReno cost ns-3 quite differently).
  std::set<std::string> variants;
  for (const auto& st : sc.stacks) variants.insert(st.tcp);
  static const std::map<std::string, std::string> kTypes{
      {"cubic", "ns3::TcpCubic"}, {"newreno", "ns3::TcpNewReno"}, {"bbr", "ns3::TcpBbr"}};
  if (variants.size() == 1 && kTypes.count(*variants.begin())) {
    ns3::Config::SetDefault("ns3::TcpL4Protocol::SocketType",
                            ns3::TypeIdValue(ns3::TypeId::LookupByName(kTypes.at(*variants.begin()))));
  } else {
    std::fprintf(stderr, "dmm-sim-bench: stacks use several TCP variants; the baseline uses ns-3's default\n");
  }
  ns3::RngSeedManager::SetSeed(1);
  ns3::RngSeedManager::SetRun(sc.seed);
  ns3::NodeContainer nodes;
  nodes.Create(static_cast<std::uint32_t>(sc.nodes.size()));
  ns3::InternetStackHelper internet;
  internet.Install(nodes);
  std::vector<std::unique_ptr<sim::Ns3Link>> links;
  for (std::size_t i = 0; i < sc.links.size(); ++i) {
    sim::Ns3LinkParams p;
    p.subnet_index = static_cast<std::uint32_t>(i);
    p.rate = sc.links[i].rate;
    p.delay = sc.links[i].delay;
    p.loss = sc.links[i].loss;
    p.queue_packets = sc.links[i].queue_packets;
    links.push_back(std::make_unique<sim::Ns3Link>(nodes.Get(static_cast<std::uint32_t>(sc.node_index(sc.links[i].a))),
                                                   nodes.Get(static_cast<std::uint32_t>(sc.node_index(sc.links[i].b))), p));
  }
  constexpr std::uint16_t kSinkPort = 9;
  ns3::PacketSinkHelper sink("ns3::TcpSocketFactory", ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), kSinkPort));
  sink.Install(nodes);
  for (const auto& s : sessions) {
    if (s.stack.empty()) continue;
    const scenario::StackSpec* stack = nullptr;
    for (const auto& st : sc.stacks) {
      if (st.name == s.stack && st.node == s.node) stack = &st;
    }
    if (!stack || stack->link.empty()) continue;
    const auto* link_spec = sc.find_link(stack->link);
    const auto& link = *links[static_cast<std::size_t>(link_spec - sc.links.data())];
    const bool client_is_a = link_spec->a == s.node;
    const auto client = nodes.Get(static_cast<std::uint32_t>(sc.node_index(s.node)));
    const auto server = nodes.Get(static_cast<std::uint32_t>(sc.node_index(s.dst)));
    const auto client_addr = client_is_a ? link.address_a() : link.address_b();
    const auto server_addr = client_is_a ? link.address_b() : link.address_a();
    auto add = [&](ns3::Ptr<ns3::Node> from, ns3::Ipv4Address to, ByteCount bytes) {
      if (bytes == 0) return;
      ns3::BulkSendHelper send("ns3::TcpSocketFactory", ns3::InetSocketAddress(to, kSinkPort));
      send.SetAttribute("MaxBytes", ns3::UintegerValue(bytes));
      // The same write size as DMM's workloads (64 KiB): BulkSend's default of 512 bytes costs ns-3 far more
      // per byte in its send buffer, which would flatter DMM.
      send.SetAttribute("SendSize", ns3::UintegerValue(64 * 1024));
      auto apps = send.Install(from);
      apps.Start(ns3::NanoSeconds(s.start.count()));
    };
    add(client, server_addr, s.bytes_sent);
    add(server, client_addr, s.bytes_received);
  }
  const auto t0 = std::chrono::steady_clock::now();
  ns3::Simulator::Stop(ns3::NanoSeconds(sc.duration.count()));
  ns3::Simulator::Run();
  Figures f{seconds_since(t0), ns3::Simulator::GetEventCount(), to_seconds(sc.duration)};
  links.clear();
  ns3::Simulator::Destroy();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description opts("Usage: dmm-sim-bench SCENARIO.yaml [--json FILE] [--no-baseline]\nOptions");
  opts.add_options()("help,h", "show this help")("json", po::value<std::string>(), "also write the figures as JSON")(
      "no-baseline", "skip the plain ns-3 replay (not a fair floor for many short sessions: see the source)")(
      "version", "print the version and exit");
  po::options_description all;
  all.add(opts).add_options()("scenario", po::value<std::string>());
  po::positional_options_description pos;
  pos.add("scenario", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
  } catch (const std::exception& e) {
    std::cerr << "dmm-sim-bench: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("version")) {
    std::cout << sim::version_line("dmm-sim-bench") << "\n";
    return 0;
  }
  if (vm.count("help") || !vm.count("scenario")) {
    std::cout << opts << "\n";
    return vm.count("help") ? 0 : 2;
  }
  StackRegistry registry;
  sim::register_sim_stack_kinds(registry);
  scenario::LoadOptions load;
  load.registry = &registry;
  auto sc = scenario::load_file(vm["scenario"].as<std::string>(), load);
  if (!sc) {
    std::cerr << sc.error().message << "\n";
    return 2;
  }

  // Opened before the runs: a path that cannot be written is bad input (exit 2), found before minutes of work.
  std::ofstream json_out;
  if (vm.count("json")) {
    const std::string path = vm["json"].as<std::string>();
    json_out.open(path);
    if (!json_out) {
      std::cerr << "dmm-sim-bench: cannot write --json " << path << ": " << std::strerror(errno) << "\n";
      return 2;
    }
  }

  Figures dmm_run;
  std::vector<scenario::SessionRecord> sessions;
  {
    auto sim = sim::Simulation::create(*sc, registry);
    if (!sim) {
      std::cerr << sim.error().message << "\n";
      return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto report = (*sim)->run({});
    if (!report) {
      std::cerr << report.error().message << "\n";
      return 3;
    }
    dmm_run = {seconds_since(t0), report->timing.sim_events, to_seconds(sc->duration)};
    sessions = report->sessions_table;
  }
  const bool with_baseline = !vm.count("no-baseline");
  const std::optional<Figures> plain = with_baseline ? std::optional(run_plain_ns3(*sc, sessions)) : std::nullopt;
  const double ratio = plain && plain->wall_s > 0 ? dmm_run.wall_s / plain->wall_s : 0;

  std::printf("dmm-sim-bench %s: %zu sessions, %.1f s simulated\n", sc->name.c_str(), sessions.size(),
              to_seconds(sc->duration));
  std::printf("  %-22s %10s %12s %14s %12s %14s\n", "run", "wall s", "events", "events/s", "sim s/wall s",
              "us/session");
  std::vector<std::pair<const char*, Figures>> rows{{"dmm (nSocket+nRD)", dmm_run}};
  if (plain) rows.emplace_back("plain ns-3 apps", *plain);
  for (const auto& [name, f] : rows) {
    const double per_session = sessions.empty() ? 0 : 1e6 * f.wall_s / double(sessions.size());
    std::printf("  %-22s %10.2f %12llu %14.0f %12.2f %14.1f\n", name, f.wall_s,
                static_cast<unsigned long long>(f.events), f.events_per_s(), f.speed(), per_session);
  }
  if (plain) {
    std::printf("  overhead: %.3fx wall time of the plain ns-3 baseline (target <= 1.15x)\n", ratio);
  } else {
    std::printf("  no baseline (--no-baseline): a plain ns-3 replay is no fair floor for many short sessions\n");
  }
  if (vm.count("json")) {
    nlohmann::ordered_json j;
    j["scenario"] = sc->name;
    j["sessions"] = sessions.size();
    j["dmm"] = {{"wall_s", dmm_run.wall_s}, {"events", dmm_run.events}, {"events_per_s", dmm_run.events_per_s()},
                {"sim_s_per_wall_s", dmm_run.speed()}};
    if (plain) {
      j["plain_ns3"] = {{"wall_s", plain->wall_s}, {"events", plain->events}, {"events_per_s", plain->events_per_s()},
                        {"sim_s_per_wall_s", plain->speed()}};
      j["overhead_ratio"] = ratio;
    } else {
      j["plain_ns3"] = nullptr;
      j["overhead_ratio"] = nullptr;
    }
    json_out << j.dump(2) << "\n";
    json_out.flush();
    if (!json_out) {
      std::cerr << "dmm-sim-bench: writing --json " << vm["json"].as<std::string>() << " failed\n";
      return 3;
    }
  }
  return 0;
}
