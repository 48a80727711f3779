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

// The paths the lwIP suites compare, from client namespace `cli` to servers in `srv`: k0, the kernel's
// (10.79.1.2 -> 10.79.1.1); u0, for an lwIP instance inside the client process (no kernel address on the client's
// end; servers at 10.79.2.1; only if `with_in_program`); and u1, the instance dmm-stackd runs (`stackd`, servers
// at kStackdPeer), its config written as `stackd_name`.yaml.
struct LwipPaths {
  std::string cli, srv;
  StackdInstance stackd;
};
Result<LwipPaths> make_lwip_paths(BenchLab& lab, const BenchOptions& options, const std::string& stackd_name,
                                  bool with_in_program = true);

}  // namespace dmm::bench
