#include "udp_suite.hpp"

#include <filesystem>
#include <memory>

#include "bench_lab.hpp"
#include "stackd_instance.hpp"
#include "udp_echo_server.hpp"

namespace dmm::bench {
namespace {

constexpr std::uint16_t kFirstEchoPort = 5310;
constexpr int kPeers = 4;

}  // namespace

Result<BenchReport> run_udp_suite(const BenchOptions& options) {
  BenchLab lab;
  // k0: the kernel path; u1: the lwIP instance dmm-stackd runs.
  auto paths = make_lwip_paths(lab, options, "udp-service", /*with_in_program=*/false);
  if (!paths) return paths.error();
  const std::string& cli = paths->cli;
  const std::string& srv = paths->srv;
  const StackdInstance& stackd = paths->stackd;
  std::vector<std::unique_ptr<UdpEchoServer>> servers;
  for (int i = 0; i < kPeers; ++i) {
    auto server = UdpEchoServer::start(BenchLab::path_of(srv), "0.0.0.0", static_cast<std::uint16_t>(kFirstEchoPort + i));
    if (!server) return server.error();
    servers.push_back(std::move(*server));
  }
  auto kernel_config = write_config(options, "udp-kernel.yaml",
                                    "stacks:\n  - {name: host, kind: kernel}\npolicy:\n  - {match: {}, use: [host]}\n");
  if (!kernel_config) return kernel_config.error();

  const std::string count = options.quick ? "500" : "10000";
  const std::string warmup = options.quick ? "50" : "1000";
  const std::vector<ClientWorkload> workloads{
      {"udp-pingpong",
       {"--workload", "udp-pingpong", "--to", "{host}:" + std::to_string(kFirstEchoPort), "--peers",
        std::to_string(kPeers), "--count", count, "--warmup", warmup, "--size", "64"},
       {"p50_us", "p99_us", "cpu_us_per_rt", "lost"}},
  };
  const std::vector<ClientVariant> variants{
      {"shim-kernel", "POSIX client under dmm-run, its socket on a kernel instance, veth k0 (baseline)", cli,
       *kernel_config, {}, {}, "10.79.1.1"},
      {"stackd-lwip", "POSIX client under dmm-run, its socket on an lwip-dpdk instance that dmm-stackd runs (CPU: "
       "client + daemon)", cli, stackd.config, {"DMM_BENCH_ADD_CPU_OF=" + std::to_string(stackd.daemon.pid())}, {},
       kStackdPeer},
  };
  BenchReport report("udp", "shim-kernel");
  report.add_figure({"p50_us", "UDP request/response p50", "us", Better::lower, std::nullopt});
  report.add_figure({"p99_us", "UDP request/response p99", "us", Better::lower, std::nullopt});
  report.add_figure({"cpu_us_per_rt", "UDP request/response CPU", "us/rt", Better::lower, std::nullopt});
  report.add_figure({"lost", "datagrams without a reply within 1 s", "datagrams", Better::lower, std::nullopt});
  if (Status s = run_rounds(options, variants, workloads, report); !s) return s.error();
  return report;
}

}  // namespace dmm::bench
