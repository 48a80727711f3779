#include "lwip_suite.hpp"

#include <filesystem>
#include <thread>

#include "bench_lab.hpp"
#include "stackd_instance.hpp"
#include "bench_process.hpp"
#include "bench_servers.hpp"

namespace dmm::bench {
namespace {

constexpr std::uint16_t kEchoPort = 5201, kSinkPort = 5202, kFloodPort = 5203;

std::vector<std::string> core_args(const std::string& kind, const std::vector<std::string>& params) {
  std::vector<std::string> args{"--api", "core", "--stack", kind};
  for (const auto& p : params) {
    args.push_back("--param");
    args.push_back(p);
  }
  return args;
}

}  // namespace

Result<BenchReport> run_lwip_suite(const BenchOptions& options) {
  BenchLab lab;
  // A second lwIP instance on its own veth for sessions that dmm-stackd runs: never two lwIPs on one interface.
  // The same kind of instance run by dmm-stackd for every program: the program's fd is its end of a session the
  // daemon pumps (the cost of the shared path: one more copy each way, through an AF_UNIX socket).
  auto paths = make_lwip_paths(lab, options, "service-lwip");
  if (!paths) return paths.error();
  const std::string& cli = paths->cli;
  const std::string& srv = paths->srv;
  const StackdInstance& stackd = paths->stackd;

  std::vector<std::unique_ptr<BenchServer>> servers;
  for (auto [kind, port] : {std::pair{ServerKind::echo, kEchoPort}, std::pair{ServerKind::sink, kSinkPort}}) {
    auto server = BenchServer::start(kind, BenchLab::path_of(srv), "0.0.0.0", port);
    if (!server) return server.error();
    servers.push_back(std::move(*server));
  }
  const std::string count = options.quick ? "200" : "20000";
  const std::string warmup = options.quick ? "20" : "1000";
  const std::string duration = options.quick ? "300ms" : "3s";
  const std::vector<ClientWorkload> workloads{
      {"pingpong",
       {"--workload", "pingpong", "--to", "{host}:" + std::to_string(kEchoPort), "--count", count, "--warmup", warmup,
        "--size", "64"},
       {"p50_us", "p99_us", "cpu_us_per_rt"}},
      {"bulk", {"--workload", "bulk", "--to", "{host}:" + std::to_string(kSinkPort), "--duration", duration},
       {"gbps", "cpu_s_per_gb"}},
  };
  // The same lwIP instance under the preload shim, for a plain POSIX client (blocking sockets, under dmm-run).
  auto shim_config = write_config(options, "shim-lwip.yaml",
                                  "stacks:\n  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', "
                                  "address: 10.79.2.2/24}\n"
                                  "policy:\n  - {match: {}, use: [user0]}\n");
  if (!shim_config) return shim_config.error();
  const std::vector<ClientVariant> variants{
      {"kernel", "core API over a kernel instance, veth k0 (baseline)", cli, std::nullopt, {},
       core_args("kernel", {}), "10.79.1.1"},
      {"lwip", "core API over lwip-dpdk on net_af_packet, veth u0", cli, std::nullopt, {},
       core_args("lwip-dpdk", {"vdev=net_af_packet0,iface=u0", "address=10.79.2.2/24"}), "10.79.2.1"},
      {"shim-lwip", "POSIX client under dmm-run, session on the same lwip-dpdk instance", cli, *shim_config, {}, {},
       "10.79.2.1"},
      {"stackd-lwip", "POSIX client under dmm-run, session on an lwip-dpdk instance that dmm-stackd runs (CPU: "
       "client + daemon)", cli, stackd.config, {"DMM_BENCH_ADD_CPU_OF=" + std::to_string(stackd.daemon.pid())}, {},
       kStackdPeer},
  };
  BenchReport report("lwip", "kernel");
  report.add_figure({"p50_us", "ping-pong p50", "us", Better::lower, std::nullopt});
  report.add_figure({"p99_us", "ping-pong p99", "us", Better::lower, std::nullopt});
  // Issue 15's targets for a user-space stack worth choosing: bulk at least half the kernel's (a slowdown of at
  // most 2), and a round trip's CPU at most 1.5 times the kernel's.
  report.add_figure({"gbps", "bulk", "Gbit/s", Better::higher, 2.0});
  report.add_figure({"cpu_us_per_rt", "ping-pong CPU", "us/rt", Better::lower, 1.5});
  report.add_figure({"cpu_s_per_gb", "bulk CPU", "s/GB", Better::lower, std::nullopt});
  if (Status s = run_rounds(options, variants, workloads, report); !s) return s.error();
  return report;
}

Result<BenchReport> run_udp_tx_suite(const BenchOptions& options) {
  BenchLab lab;
  auto cli = lab.add_namespace("cli");
  if (!cli) return cli.error();
  // The kernel's "send and drop": a veth whose peer discards every frame at once (addressed to a MAC it does not
  // have, through a permanent neighbour entry). This kernel has no dummy device.
  auto drop = lab.add_namespace("drop");
  if (!drop) return drop.error();
  if (Status s = lab.link(*cli, "d0", "10.79.3.2/24", *drop, "d0", ""); !s) return s.error();
  if (Status s = ip({"-n", *cli, "neigh", "add", "10.79.3.1", "lladdr", "02:00:00:00:00:01", "dev", "d0", "nud",
                     "permanent"});
      !s)
    return s.error();
  const std::string duration = options.quick ? "300ms" : "2s";
  const std::vector<ClientWorkload> workloads{
      {"udp-flood",
       {"--workload", "udp-flood", "--to", "{host}:" + std::to_string(kFloodPort), "--duration", duration, "--size",
        "18"},
       {"pps", "cpu_ns_per_packet"}},
  };
  const std::vector<ClientVariant> variants{
      {"kernel-veth", "core API over a kernel UDP socket into a veth whose peer drops (baseline)", *cli, std::nullopt,
       {},
       core_args("kernel", {}), "10.79.3.1"},
      // The subnet's broadcast address: net_null answers no ARP, and lwIP (built without static entries) has none.
      {"lwip-null", "core API over lwip-dpdk on net_null", *cli, std::nullopt, {},
       core_args("lwip-dpdk", {"vdev=net_null0", "address=10.79.4.2/24"}), "10.79.4.255"},
  };
  BenchReport report("udp-tx", "kernel-veth");
  FigureSpec pps{"pps", "UDP TX 64-byte frames", "pkt/s", Better::higher, std::nullopt};
  pps.at_least = 1e6;
  report.add_figure(pps);
  report.add_figure({"cpu_ns_per_packet", "UDP TX CPU", "ns/pkt", Better::lower, std::nullopt});
  if (Status s = run_rounds(options, variants, workloads, report); !s) return s.error();
  return report;
}

}  // namespace dmm::bench
