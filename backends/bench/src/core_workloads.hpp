#pragma once
// The benchmark clients written against the core's Stack/Connection API on an EpollExecutor: a kernel instance
// and an lwip-dpdk instance are measured by the very same event-driven code (what nSocket and the simulator use).
// Each returns its figures as one JSON object, like the POSIX clients (client_workloads.hpp).
#include <chrono>
#include <cstddef>

#include <nlohmann/json.hpp>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/stack.hpp"

namespace dmm::bench {

// One connection; `warmup` then `count` round trips of `size` bytes. {"p50_us","p99_us","mean_us","cpu_us_per_rt"}
Result<nlohmann::json> run_core_pingpong(Stack& stack, kernel::EpollExecutor& executor, const Endpoint& to, int count,
                                         int warmup, std::size_t size);
// One connection, writes for `duration`, then end of stream; the server answers its byte count (ServerKind::sink).
// {"gbps","cpu_s_per_gb","bytes","seconds"}
Result<nlohmann::json> run_core_bulk(Stack& stack, kernel::EpollExecutor& executor, const Endpoint& to,
                                     std::chrono::milliseconds duration, std::size_t write_size);
// UDP datagrams of `size` bytes to `to` as fast as the stack takes them, for `duration`. `sent_frames` (may be
// null) reads how many frames really left (a driver's counter), else every accepted send counts.
// {"pps","cpu_ns_per_packet","packets","seconds"}
Result<nlohmann::json> run_core_udp_flood(Stack& stack, kernel::EpollExecutor& executor, const Endpoint& to,
                                          std::chrono::milliseconds duration, std::size_t size,
                                          const std::function<std::uint64_t()>& sent_frames);

}  // namespace dmm::bench
