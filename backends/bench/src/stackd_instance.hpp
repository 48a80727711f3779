#pragma once
// The lwip-dpdk instance that dmm-stackd runs in the lwip, first-session and udp suites: the instance 10.79.5.2 on
// veth u1, whose peer end is `srv`'s 10.79.5.1/24. The instance's end is in a namespace of its own, apart from the
// in-program instances' (u0): what the daemon owns stays out of the client's namespace.
#include <filesystem>
#include <string>

#include "bench_lab.hpp"
#include "bench_process.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

inline constexpr const char* kStackdPeer = "10.79.5.1";  // where a suite's servers for it listen, in `srv`

struct StackdInstance {
  std::filesystem::path config;  // the host config a client under dmm-run uses (policy: everything on it)
  BackgroundProcess daemon;      // dmm-stackd, running, its socket there
};

// Links the namespace, writes the config as `name`.yaml, starts the daemon.
Result<StackdInstance> start_stackd_instance(BenchLab& lab, const std::string& srv, const BenchOptions& options,
                                             const std::string& name);

}  // namespace dmm::bench
