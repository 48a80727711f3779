#include "dpdk_environment.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <stdio.h>
#include <sched.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dmm::lwip_dpdk {
namespace {

// DPDK's log sink: a FILE whose writes land in a bounded buffer (the newest 4 KiB).
struct LogBuffer {
  std::mutex mutex;
  std::string text;
};

LogBuffer& log_buffer() {
  static LogBuffer buffer;  // process-wide, as DPDK's log stream is
  return buffer;
}

ssize_t write_log(void*, const char* data, size_t size) {
  LogBuffer& b = log_buffer();
  const std::lock_guard lock(b.mutex);
  b.text.append(data, size);
  constexpr std::size_t kKeep = 4096;
  if (b.text.size() > kKeep) b.text.erase(0, b.text.size() - kKeep);
  return static_cast<ssize_t>(size);
}

FILE* open_log_stream() {
  cookie_io_functions_t functions{};
  functions.write = write_log;
  FILE* stream = ::fopencookie(nullptr, "w", functions);
  if (stream) ::setvbuf(stream, nullptr, _IOLBF, 0);
  return stream;
}

}  // namespace

std::string DpdkEnvironment::take_log() {
  LogBuffer& b = log_buffer();
  const std::lock_guard lock(b.mutex);
  std::string out;
  out.swap(b.text);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

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

  if (FILE* stream = open_log_stream()) rte_openlog_stream(stream);
  cpu_set_t affinity;
  const bool saved = ::sched_getaffinity(0, sizeof affinity, &affinity) == 0;
  const int ret = rte_eal_init(static_cast<int>(args.size()), argv.data());
  if (saved) ::sched_setaffinity(0, sizeof affinity, &affinity);
  if (ret < 0) {
    const int err = rte_errno;
    outcome = make_error(err != 0 ? err : EIO, std::string("DPDK EAL initialisation failed: ") + rte_strerror(err) +
                                                   " (DPDK said: " + take_log() + ")");
  } else {
    // EAL makes its runtime directory (/var/run/dpdk/<prefix>) even with --no-shconf, then leaves it empty: no
    // shared config, no multi-process socket. Nothing later needs it, and a process that ends without EAL's
    // cleanup (killed, _exit, exec) would leave it behind for good, one per process: remove it now. rmdir keeps
    // it if EAL did put something there.
    ::rmdir(rte_eal_get_runtime_dir());
    outcome = &environment;
  }
  return *outcome;
}

}  // namespace dmm::lwip_dpdk
