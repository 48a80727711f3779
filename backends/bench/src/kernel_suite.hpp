#pragma once
// `dmm-bench kernel`: what the preload shim costs on the kernel stack (issue 4's targets). Over one veth pair
// between two namespaces, the same client runs
//   kernel       — plainly, in the namespace that owns the veth (the baseline);
//   shim-same-ns — under dmm-run, policy keeps the session in that namespace (the placeholder socket is kept);
//   shim-netns   — under dmm-run from a namespace with only loopback; the policy puts the session on a kernel
//                  instance in the veth's namespace (made there by socket() itself: two setns; or re-created there
//                  and dup3'ed into place when the prediction is wrong).
//   shim-netns-pool — the same with DMM_POOL=on: a thread of the shim makes blue's sockets in advance.
//   shim-stackd  — the same with dmm-stackd on the host: blue's sockets come from it, pooled (socket_sources.hpp).
//   shim-nobody  — the same as uid nobody, which may not enter blue's namespace: dmm-stackd is the only way in.
// Figures: TCP ping-pong latency (p50/p99, 64-byte messages, TCP_NODELAY), bulk throughput (one connection,
// 128 KiB writes), connect+close rate.
#include "bench_report.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

Result<BenchReport> run_kernel_suite(const BenchOptions& options);

}  // namespace dmm::bench
