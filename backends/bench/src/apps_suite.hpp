#pragma once
// `dmm-bench apps`: unmodified request/response programs against the same servers, over the kernel and over
// lwip-dpdk in the same run: redis-benchmark (SET and GET, 20 connections on one event loop) against
// redis-server, and wrk (20 keep-alive connections) against nginx. The servers run on the kernel in `srv`; the
// clients reach them over a kernel veth (baseline), under dmm-run over an lwip-dpdk instance inside the client
// process, and under dmm-run over an instance dmm-stackd runs. Issue 15's target: >= 0.7x the kernel's rate.
#include "bench_report.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

Result<BenchReport> run_apps_suite(const BenchOptions& options);

}  // namespace dmm::bench
