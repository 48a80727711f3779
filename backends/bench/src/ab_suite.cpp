#include "ab_suite.hpp"

#include <regex>

#include "bench_lab.hpp"
#include "bench_process.hpp"
#include "nginx_server.hpp"
#include "nobody_variant.hpp"

namespace dmm::bench {
namespace {

constexpr const char* kServerAddress = "10.233.2.1";

// ab's report: "Requests per second:    1234.56 [#/sec] (mean)", "Failed requests:        0",
// "Complete requests:      20000". A run with failures measures the failures, not the rate: refused.
Result<nlohmann::json> parse_ab(const std::string& out) {
  std::smatch m;
  auto number = [&](const char* pattern) -> std::optional<double> {
    if (!std::regex_search(out, m, std::regex(pattern))) return std::nullopt;
    return std::stod(m[1].str());
  };
  const auto rate = number(R"(Requests per second:\s+([0-9.]+))");
  const auto failed = number(R"(Failed requests:\s+([0-9]+))");
  const auto complete = number(R"(Complete requests:\s+([0-9]+))");
  if (!rate || !failed || !complete) return make_error(EPROTO, "not ab's report: " + out.substr(0, 400));
  if (*failed != 0) return make_error(EIO, "ab saw " + std::to_string(static_cast<long>(*failed)) + " failed requests");
  return nlohmann::json{{"requests_per_s", *rate}, {"us_per_request", 1e6 / *rate}, {"complete", *complete}};
}

}  // namespace

Result<BenchReport> run_ab_suite(const BenchOptions& options) {
  BenchLab lab;
  auto made = make_placement_lab(lab, "10.233.2.2", kServerAddress);
  if (!made) return made.error();
  const std::string& cli = made->cli;
  const std::string& blue = made->blue;
  const std::string& srv = made->srv;
  auto nginx = start_nginx(options, srv, std::string(kServerAddress) + ":80");
  if (!nginx) return nginx.error();
  auto root_config = write_config(options, "shim-netns.yaml",
                                  "stacks:\n  - {name: blue, kind: kernel, netns: " + blue + "}\n"
                                  "policy:\n  - {match: {}, use: [blue]}\n");
  if (!root_config) return root_config.error();
  auto nobody = start_nobody_placement(options, "shim-nobody", blue);
  if (!nobody) return nobody.error();

  const std::string requests = options.quick ? "300" : "20000";
  const std::vector<ClientWorkload> workloads{
      {"ab", {"ab", "-q", "-n", requests, "-c", "1", "-s", "10", std::string("http://") + kServerAddress + "/"},
       {"requests_per_s", "us_per_request"}, parse_ab},
  };
  const std::vector<ClientVariant> variants{
      {"kernel", "plain ab in the veth's namespace (baseline)", blue, std::nullopt, {}},
      {"shim-netns", "ab under dmm-run from a loopback-only namespace, every connection placed on 'blue'", cli,
       *root_config, {}},
      {"shim-nobody", "the same as uid nobody: blue's sockets come from dmm-stackd (pooled)", cli, nobody->config,
       {}, {}, "", as_nobody()},
  };
  // ab waits for nginx's first answer itself only as a failed request: make sure it listens first.
  for (int i = 0; i < 200; ++i) {
    auto probe = run_process({"ab", "-q", "-n", "1", std::string("http://") + kServerAddress + "/"}, {},
                             BenchLab::path_of(blue), std::chrono::seconds(5), options.cancel_fd);
    if (probe && probe->exit_code == 0 && parse_ab(probe->out)) break;
    if (!nginx->running()) return make_error(EIO, "nginx did not start (its stderr says why)");
  }
  BenchReport report("ab", "kernel");
  report.add_figure({"requests_per_s", "ab requests", "/s", Better::higher, 1.03});
  report.add_figure({"us_per_request", "ab per request", "us", Better::lower, std::nullopt});
  if (Status s = run_rounds(options, variants, workloads, report); !s) return s.error();
  return report;
}

}  // namespace dmm::bench
