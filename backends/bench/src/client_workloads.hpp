#pragma once
// What a benchmark client does, in its own process (`dmm-bench client ...`), so that it can run plain or under
// dmm-run with the same code: the shim is the only difference between two variants. Each workload uses ordinary
// blocking POSIX calls — the calls the shim interposes on — and returns its figures as one JSON object.
#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "dmm/result.hpp"

namespace dmm::bench {

struct ClientTarget {
  std::string address;  // IPv4 or IPv6 literal
  std::uint16_t port = 0;
};

// One connection; `warmup` then `count` round trips of `size` bytes, each timed. TCP_NODELAY is set before
// connect (under the shim it is replayed onto the placed socket). {"p50_us","p99_us","mean_us",
// "cpu_us_per_rt","count"}.
Result<nlohmann::json> run_pingpong(const ClientTarget& to, int count, int warmup, std::size_t size);

// One connection; writes of `write_size` for `duration`, then shutdown(SHUT_WR) and waits for the server's
// count of bytes received: the time runs until every byte is known to have arrived. {"gbps",
// "cpu_s_per_gb" (client CPU seconds per GB sent),"bytes","seconds"}.
// UDP request/response: `count` datagrams of `size` bytes from one unconnected socket, each to the next of `peers`
// echo servers on consecutive ports from `to`'s, each answered before the next: p50_us, p99_us, cpu_us_per_rt,
// lost (no reply within 1 s). A reply from another address than the server asked fails the run.
Result<nlohmann::json> run_udp_pingpong(const ClientTarget& to, int count, int warmup, std::size_t size, int peers);

Result<nlohmann::json> run_bulk(const ClientTarget& to, std::chrono::milliseconds duration, std::size_t write_size);

// connect, wait for the server's close (EOF), close; repeated for `duration`. {"per_s","cpu_us_per_connection" (client CPU per
// connection),"count","seconds"}.
Result<nlohmann::json> run_connect_close(const ClientTarget& to, std::chrono::milliseconds duration);

// The cost of a program's first session: one connect in a fresh process (the shim's start, the stack's — EAL for
// a user-space instance in the program —, the session's set-up). {"first_session_ms": from the moment the runner
// started the process (DMM_BENCH_SPAWNED_AT_NS, CLOCK_MONOTONIC, shared by every process) until connect returned}.
Result<nlohmann::json> run_first_session(const ClientTarget& to);

}  // namespace dmm::bench
