#include "kernel_suite.hpp"

#include "bench_lab.hpp"
#include "bench_servers.hpp"
#include "nobody_variant.hpp"

namespace dmm::bench {
namespace {

constexpr const char* kServerAddress = "10.233.1.1";
constexpr std::uint16_t kEchoPort = 5101, kSinkPort = 5102, kAcceptPort = 5103;

std::vector<ClientWorkload> kernel_workloads(const BenchOptions& options) {
  const std::string to = std::string(kServerAddress) + ":";
  const std::string count = options.quick ? "200" : "20000";
  const std::string warmup = options.quick ? "20" : "1000";
  const std::string duration = options.quick ? "200ms" : "2s";
  return {
      {"pingpong",
       {"--workload", "pingpong", "--to", to + std::to_string(kEchoPort), "--count", count, "--warmup", warmup,
        "--size", "64"},
       {"p50_us", "p99_us", "cpu_us_per_rt"}},
      {"bulk", {"--workload", "bulk", "--to", to + std::to_string(kSinkPort), "--duration", duration},
       {"gbps", "cpu_s_per_gb"}},
      {"connect", {"--workload", "connect", "--to", to + std::to_string(kAcceptPort), "--duration", duration},
       {"per_s", "cpu_us_per_connection"}},
  };
}

void add_kernel_figures(BenchReport& report) {
  report.add_figure({"p50_us", "ping-pong p50", "us", Better::lower, 1.03});
  report.add_figure({"p99_us", "ping-pong p99", "us", Better::lower, 1.03});
  report.add_figure({"gbps", "bulk", "Gbit/s", Better::higher, 1.01});
  report.add_figure({"per_s", "connect+close", "/s", Better::higher, 1.03});
  // The same three costs as client CPU time, which a busy machine disturbs far less than wall-clock figures.
  report.add_figure({"cpu_us_per_rt", "ping-pong CPU", "us/rt", Better::lower, std::nullopt});
  report.add_figure({"cpu_s_per_gb", "bulk CPU", "s/GB", Better::lower, std::nullopt});
  report.add_figure({"cpu_us_per_connection", "connect+close CPU", "us", Better::lower, std::nullopt});
}

}  // namespace

Result<BenchReport> run_kernel_suite(const BenchOptions& options) {
  BenchLab lab;
  auto made = make_placement_lab(lab, "10.233.1.2", kServerAddress);
  if (!made) return made.error();
  const std::string& cli = made->cli;
  const std::string& blue = made->blue;
  const std::string& srv = made->srv;

  std::vector<std::unique_ptr<BenchServer>> servers;
  for (auto [kind, port] : {std::pair{ServerKind::echo, kEchoPort}, std::pair{ServerKind::sink, kSinkPort},
                            std::pair{ServerKind::accept_close, kAcceptPort}}) {
    auto server = BenchServer::start(kind, BenchLab::path_of(srv), kServerAddress, port);
    if (!server) return server.error();
    servers.push_back(std::move(*server));
  }

  auto same_ns_config = write_config(options, "shim-same-ns.yaml",
                                     "stacks:\n  - {name: host, kind: kernel}\n"
                                     "policy:\n  - {match: {}, use: [host]}\n");
  if (!same_ns_config) return same_ns_config.error();
  auto netns_config = write_config(options, "shim-netns.yaml",
                                   "stacks:\n  - {name: blue, kind: kernel, netns: " + blue + "}\n"
                                   "policy:\n  - {match: {}, use: [blue]}\n");
  if (!netns_config) return netns_config.error();

  // The same placement for a client that runs as nobody: its sockets come from dmm-stackd.
  auto nobody = start_nobody_placement(options, "shim-nobody", blue);
  if (!nobody) return nobody.error();

  const std::vector<ClientVariant> variants{
      {"kernel", "plain client in the veth's namespace (baseline)", blue, std::nullopt, {}},
      {"shim-same-ns", "under dmm-run, session kept in the client's own namespace", blue, *same_ns_config, {}},
      {"shim-netns", "under dmm-run from a loopback-only namespace, session placed on netns instance 'blue'", cli,
       *netns_config, {}},
      {"shim-netns-pool", "shim-netns with DMM_POOL=on: blue's sockets made in advance by a shim thread", cli,
       *netns_config, {"DMM_POOL=on"}},
      {"shim-stackd", "shim-netns with dmm-stackd on the host: blue's sockets come from it (pooled)", cli,
       nobody->config, {}},
      {"shim-nobody", "the same as uid nobody: blue's sockets come from dmm-stackd (pooled)", cli, nobody->config,
       {}, {}, "", as_nobody()},
  };
  BenchReport report("kernel", "kernel");
  add_kernel_figures(report);
  if (Status s = run_rounds(options, variants, kernel_workloads(options), report); !s) return s.error();
  return report;
}

}  // namespace dmm::bench
