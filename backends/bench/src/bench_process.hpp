#pragma once
// Child processes for dmm-bench: a command run inside a network namespace (setns in the child, then exec), its
// stdout on a pipe, stderr passed through (so a failing client says why on the terminal), waited for with a
// deadline and killed if it overruns: a benchmark must never hang.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dmm/result.hpp"

namespace dmm::bench {

struct ProcessOutcome {
  int exit_code = -1;  // exit status, or 128 + signal
  std::string out;     // all of stdout
};

// Runs `argv` (argv[0] searched in PATH) with `env_extra` ("NAME=value") added to the environment, inside the
// network namespace file `netns_path` (empty: the caller's namespace). Fails if it cannot start, does not
// finish within `timeout`, or `cancel_fd` (e.g. a signalfd for SIGINT) becomes readable first; then the child
// and everything it started are killed. The child starts with no signal blocked.
Result<ProcessOutcome> run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra,
                                   const std::string& netns_path, std::chrono::milliseconds timeout,
                                   int cancel_fd = -1);

// A daemon a suite needs while it runs (dmm-stackd): started in its own process group, its stdout discarded and
// stderr passed through; killed (the whole group) and reaped when the handle goes away.
class BackgroundProcess {
public:
  static Result<BackgroundProcess> start(const std::vector<std::string>& argv, const std::string& netns_path);
  BackgroundProcess(BackgroundProcess&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  BackgroundProcess& operator=(BackgroundProcess&&) = delete;
  BackgroundProcess(const BackgroundProcess&) = delete;
  ~BackgroundProcess();
  // Still running (not exited yet).
  bool running() const;
  pid_t pid() const { return pid_; }

private:
  explicit BackgroundProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// `ip ARGS...`; an error carries the command and what it printed.
Status ip(const std::vector<std::string>& args);

std::string join_command(const std::vector<std::string>& argv);

}  // namespace dmm::bench
