#pragma once
// `dmm-bench first-session`: what a program's first session costs it, from the moment the process is started until
// its first connect() returns — under dmm-run on a kernel instance (baseline), on an lwip-dpdk instance inside the
// program (DPDK's EAL and the port start in every process), and on one that dmm-stackd runs for every program.
#include "bench_report.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

Result<BenchReport> run_first_session_suite(const BenchOptions& options);

}  // namespace dmm::bench
