#pragma once
// `dmm-bench client --api core ...`: builds one stack instance in this process (a kernel instance of the
// process's own namespace, or an lwip-dpdk instance from --param KEY=VALUE) on an EpollExecutor, and runs a
// core_workloads client over it.
#include <chrono>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "dmm/address.hpp"
#include "dmm/result.hpp"

namespace dmm::bench {

struct CoreClientOptions {
  std::string stack_kind;                     // kernel | lwip-dpdk
  std::map<std::string, std::string> params;  // the kind's parameters
  std::string workload;                       // pingpong | bulk | udp-flood
  Endpoint to;
  int count = 10000, warmup = 1000;
  std::size_t size = 64, write_size = 128 * 1024;
  std::chrono::milliseconds duration{2000};
};

Result<nlohmann::json> run_core_client(const CoreClientOptions& options);

}  // namespace dmm::bench
