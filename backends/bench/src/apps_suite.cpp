#include "apps_suite.hpp"

#include <regex>
#include <sstream>
#include <thread>

#include "bench_lab.hpp"
#include "bench_process.hpp"
#include "nginx_server.hpp"
#include "stackd_instance.hpp"

namespace dmm::bench {
namespace {

constexpr const char* kRedisPort = "6390";
constexpr const char* kHttpPort = "8080";

// redis-benchmark --csv: a header, then "SET","51813.47",... per test. Every test asked for must be there.
Result<nlohmann::json> parse_redis_benchmark(const std::string& out) {
  nlohmann::json figures;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, std::regex(R"re(^"(SET|GET)","([0-9.]+)")re")))
      figures[m[1].str() == "SET" ? "set_per_s" : "get_per_s"] = std::stod(m[2].str());
  }
  if (!figures.contains("set_per_s") || !figures.contains("get_per_s"))
    return make_error(EPROTO, "not redis-benchmark's CSV report: " + out.substr(0, 400));
  return figures;
}

// wrk: "Requests/sec:  12345.67"; a run with socket errors or non-2xx answers measures the errors: refused.
Result<nlohmann::json> parse_wrk(const std::string& out) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))")) &&
      (m[1] != "0" || m[2] != "0" || m[3] != "0" || m[4] != "0"))
    return make_error(EIO, "wrk saw socket errors: " + m[0].str());
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))")))
    return make_error(EIO, "wrk saw " + m[1].str() + " error responses");
  if (!std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    return make_error(EPROTO, "not wrk's report: " + out.substr(0, 400));
  const double rate = std::stod(m[1].str());
  nlohmann::json figures{{"http_per_s", rate}};
  if (std::regex_search(out, m, std::regex(R"(\n\s+50%\s+([0-9.]+)(us|ms|s))"))) {
    const double scale = m[2] == "us" ? 1.0 : m[2] == "ms" ? 1e3 : 1e6;
    figures["http_p50_us"] = std::stod(m[1].str()) * scale;
  }
  return figures;
}

// Waits until `probe` (run in `netns`) succeeds: the servers take a moment to listen.
Status wait_until_serving(const BenchOptions& options, const std::string& netns, const std::vector<std::string>& probe,
                          const BackgroundProcess& server, const std::string& what) {
  for (int i = 0; i < 200; ++i) {
    auto outcome = run_process(probe, {}, BenchLab::path_of(netns), std::chrono::seconds(5), options.cancel_fd);
    if (outcome && outcome->exit_code == 0) return {};
    if (!server.running()) return make_error(EIO, what + " did not start (its stderr says why)");
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return make_error(ETIMEDOUT, what + " did not answer within 5 s");
}

}  // namespace

Result<BenchReport> run_apps_suite(const BenchOptions& options) {
  BenchLab lab;
  auto paths = make_lwip_paths(lab, options, "apps-lwip");
  if (!paths) return paths.error();
  const std::string& cli = paths->cli;
  const std::string& srv = paths->srv;
  const StackdInstance& stackd = paths->stackd;

  auto redis = BackgroundProcess::start({"redis-server", "--port", kRedisPort, "--bind", "0.0.0.0", "--save", "",
                                         "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
                                         "--loglevel", "warning"},
                                        BenchLab::path_of(srv));
  if (!redis) return redis.error();
  auto nginx = start_nginx(options, srv, kHttpPort);
  if (!nginx) return nginx.error();
  if (Status s = wait_until_serving(options, cli, {"redis-cli", "-h", "10.79.1.1", "-p", kRedisPort, "ping"}, *redis,
                                    "redis-server");
      !s)
    return s.error();
  if (Status s = wait_until_serving(options, cli, {"curl", "-sf", "-o", "/dev/null", "http://10.79.1.1:8080/"},
                                    *nginx, "nginx");
      !s)
    return s.error();

  auto shim_config = write_config(options, "apps-shim-lwip.yaml",
                                  "stacks:\n  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', "
                                  "address: 10.79.2.2/24}\n"
                                  "policy:\n  - {match: {}, use: [user0]}\n");
  if (!shim_config) return shim_config.error();
  const std::string requests = options.quick ? "2000" : "100000";
  const std::string duration = options.quick ? "1s" : "3s";
  const std::vector<ClientWorkload> workloads{
      {"redis-benchmark",
       {"redis-benchmark", "-h", "{host}", "-p", kRedisPort, "-n", requests, "-c", "20", "-t", "set,get", "--csv"},
       {"set_per_s", "get_per_s"}, parse_redis_benchmark},
      {"wrk", {"wrk", "-t", "1", "-c", "20", "-d", duration, "--latency", "http://{host}:8080/"},
       {"http_per_s", "http_p50_us"}, parse_wrk},
  };
  const std::vector<ClientVariant> variants{
      {"kernel", "plain programs over a kernel veth k0 (baseline)", cli, std::nullopt, {}, {}, "10.79.1.1"},
      {"shim-lwip", "under dmm-run, sessions on an lwip-dpdk instance inside the client (veth u0)", cli,
       *shim_config, {}, {}, "10.79.2.1"},
      {"stackd-lwip", "under dmm-run, sessions on an lwip-dpdk instance dmm-stackd runs (veth u1)", cli,
       stackd.config, {}, {}, kStackdPeer},
  };
  BenchReport report("apps", "kernel");
  // >= 0.7x the kernel's rate: a slowdown of at most 1/0.7.
  report.add_figure({"set_per_s", "redis SET", "/s", Better::higher, 1.0 / 0.7});
  report.add_figure({"get_per_s", "redis GET", "/s", Better::higher, 1.0 / 0.7});
  report.add_figure({"http_per_s", "wrk requests", "/s", Better::higher, 1.0 / 0.7});
  report.add_figure({"http_p50_us", "wrk p50", "us", Better::lower, std::nullopt});
  if (Status s = run_rounds(options, variants, workloads, report); !s) return s.error();
  return report;
}

}  // namespace dmm::bench
