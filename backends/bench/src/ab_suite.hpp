#pragma once
// `dmm-bench ab`: an unmodified HTTP benchmark (ApacheBench, one new connection per request) against nginx over a
// veth, plainly and under dmm-run with its sessions placed on a kernel instance in another namespace — as root,
// and as nobody (sockets from dmm-stackd). Issue 11 asked for ab's connection-per-request rate under dmm-run;
// the target is the kernel suite's connect+close target (<= 1.03x plain).
#include "bench_report.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

Result<BenchReport> run_ab_suite(const BenchOptions& options);

}  // namespace dmm::bench
