#pragma once
// `dmm-bench udp`: UDP request/response as DNS clients do it — one unconnected socket asking 4 echo servers in
// turn, each reply awaited — under dmm-run on a kernel instance (baseline) and on an lwip-dpdk instance that
// dmm-stackd runs (the program's socket is a real UDP socket in the instance's datagram namespace; the daemon
// carries each datagram through a tun device and lwIP). CPU counts the daemon's too. (An instance inside the
// program keeps one peer per socket: not comparable here.)
#include "bench_report.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

Result<BenchReport> run_udp_suite(const BenchOptions& options);

}  // namespace dmm::bench
