#include "dpdk_environment.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dmm::lwip_dpdk {

Result<DpdkEnvironment*> DpdkEnvironment::get(std::size_t memory_mb) {
  static std::mutex mutex;
  static std::optional<Result<DpdkEnvironment*>> outcome;  // EAL's one initialisation, success or not
  const std::lock_guard lock(mutex);
  if (outcome) return *outcome;

  static DpdkEnvironment environment;
  const std::string prefix = "dmm-" + std::to_string(::getpid());
  const std::string memory = std::to_string(memory_mb);
  // -l 0: one lcore, so EAL starts no worker threads (the stack runs on its caller's executor thread). No
  // --in-memory: it needs hugepages here.
  std::vector<std::string> args{"dmm",           "--no-huge", "--no-pci", "--no-shconf",      "--no-telemetry",
                                "-m",            memory,      "-l",       "0",                "--file-prefix",
                                prefix,          "--log-level", "lib.eal:error", "--log-level", "pmd.net.*:warning"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  cpu_set_t affinity;
  const bool saved = ::sched_getaffinity(0, sizeof affinity, &affinity) == 0;
  const int ret = rte_eal_init(static_cast<int>(args.size()), argv.data());
  if (saved) ::sched_setaffinity(0, sizeof affinity, &affinity);
  if (ret < 0) {
    const int err = rte_errno;
    outcome = make_error(err != 0 ? err : EIO, std::string("DPDK EAL initialisation failed: ") + rte_strerror(err));
  } else {
    outcome = &environment;
  }
  return *outcome;
}

}  // namespace dmm::lwip_dpdk
