#pragma once
// A program dmm-emu starts inside one of its namespaces (a command workload's run, or its `serve:` server): its own
// process group, so that stopping it stops what it started; its output in files; its end seen on the epoll loop
// through a pidfd, so the run learns of an exit when it happens rather than at the next poll.
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"

namespace dmm::emu {

// How a process ended, in the words a person would use: `exit status 3`, `killed by signal 9`.
struct ExitStatus {
  bool exited = false;  // false: killed by a signal
  int code = 0;         // exit status, or the signal number
  bool success() const { return exited && code == 0; }
  std::string to_string() const;
};

class ChildProcess {
public:
  // Runs `argv` in network namespace `netns` (through `ip netns exec`), in working directory `cwd`, stdin from
  // /dev/null, stdout and stderr appended to the two files. `on_exit` runs on `loop` once it has ended (never
  // after the ChildProcess is destroyed).
  static Result<std::unique_ptr<ChildProcess>> spawn(kernel::EpollExecutor& loop, const std::string& netns,
                                                     const std::vector<std::string>& argv, const std::string& cwd,
                                                     const std::string& stdout_path, const std::string& stderr_path,
                                                     std::function<void(ExitStatus)> on_exit);
  ~ChildProcess();  // a process still running is killed (its whole group) and reaped
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return running_; }
  // SIGTERM to its process group now, SIGKILL if it has not ended `grace` later.
  void stop(Duration grace);

private:
  ChildProcess(kernel::EpollExecutor& loop, pid_t pid, kernel::UniqueFd pidfd, std::function<void(ExitStatus)> on_exit);
  void reap();

  kernel::EpollExecutor& loop_;
  pid_t pid_;
  kernel::UniqueFd pidfd_;
  std::function<void(ExitStatus)> on_exit_;
  bool running_ = true;
  TimerId kill_timer_ = 0;
};

}  // namespace dmm::emu
