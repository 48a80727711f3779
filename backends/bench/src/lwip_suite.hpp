#pragma once
// `dmm-bench lwip` and `dmm-bench udp-tx`: the user-space stack against the kernel, both driven by the same
// core-API client (core_workloads.hpp) from one namespace, over the same kind of veth pair to a kernel server.
//   lwip:   TCP ping-pong (p50/p99) and bulk: kernel instance (baseline) vs lwip-dpdk on net_af_packet, and
//           the same instance carrying a POSIX client's session through the preload shim (shim-lwip).
//           Issue 5's target: lwIP bulk >= 0.8x the kernel's (slowdown <= 1.25).
//   udp-tx: UDP transmit rate of 18-byte datagrams (64-byte frames): a kernel socket into a veth whose peer
//           drops every frame unseen (the kernel's "send and drop", baseline) vs lwip-dpdk on net_null.
//           Target: >= 1 Mpps.
#include "bench_report.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

Result<BenchReport> run_lwip_suite(const BenchOptions& options);
Result<BenchReport> run_udp_tx_suite(const BenchOptions& options);

}  // namespace dmm::bench
