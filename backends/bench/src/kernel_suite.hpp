#pragma once
// `dmm-bench kernel`: what the preload shim costs on the kernel stack (issue 4's targets). Over one veth pair
// between two namespaces, the same client runs
//   kernel       — plainly, in the namespace that owns the veth (the baseline);
//   shim-same-ns — under dmm-run, policy keeps the session in that namespace (the placeholder socket is kept);
//   shim-netns   — under dmm-run from a namespace with only loopback; the policy puts the session on a kernel
//                  instance in the veth's namespace (the socket is re-created there and dup3'ed into place).
// Figures: TCP ping-pong latency (p50/p99, 64-byte messages, TCP_NODELAY), bulk throughput (one connection,
// 128 KiB writes), connect+close rate.
#include "bench_report.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

Result<BenchReport> run_kernel_suite(const BenchOptions& options);

}  // namespace dmm::bench
