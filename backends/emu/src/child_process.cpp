#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dmm::emu {
namespace {

// Debian 12's <sys/pidfd.h> declares pidfd_open without C linkage (glibc 2.36): the system call itself.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

std::string ExitStatus::to_string() const {
  if (exited) return "exit status " + std::to_string(code);
  const char* name = ::sigabbrev_np(code);
  return "killed by signal " + std::to_string(code) + (name ? std::string(" (SIG") + name + ")" : "");
}

ChildProcess::ChildProcess(kernel::EpollExecutor& loop, pid_t pid, kernel::UniqueFd pidfd,
                           std::function<void(ExitStatus)> on_exit)
    : loop_(loop), pid_(pid), pidfd_(std::move(pidfd)), on_exit_(std::move(on_exit)) {}

ChildProcess::~ChildProcess() {
  loop_.cancel(kill_timer_);
  if (pidfd_) loop_.unwatch(pidfd_.get());
  if (running_) {
    ::kill(-pid_, SIGKILL);
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED) < 0 && errno == EINTR) {
    }
  }
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(kernel::EpollExecutor& loop, const std::string& netns,
                                                          const std::vector<std::string>& argv, const std::string& cwd,
                                                          const std::string& stdout_path,
                                                          const std::string& stderr_path,
                                                          std::function<void(ExitStatus)> on_exit) {
  // Everything the child needs is prepared here: between fork and exec only async-signal-safe calls.
  std::vector<std::string> full{"ip", "netns", "exec", netns};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (auto& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  kernel::UniqueFd out(::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!out) return make_error(errno, "cannot write " + stdout_path + ": " + std::strerror(errno));
  kernel::UniqueFd err(::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!err) return make_error(errno, "cannot write " + stderr_path + ": " + std::strerror(errno));
  kernel::UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(errno, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    // Dies with dmm-emu, however dmm-emu ends (kept across exec); what it forks is stopped through its group.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::dup2(null.get(), STDIN_FILENO);
    ::dup2(out.get(), STDOUT_FILENO);
    ::dup2(err.get(), STDERR_FILENO);
    // dmm-emu blocks SIGINT/SIGTERM for its signalfd; the program starts with the defaults.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp("ip", args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before anyone signals it
  kernel::UniqueFd pidfd(open_pidfd(pid));
  if (!pidfd) {
    const int e = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return make_error(e, std::string("pidfd_open: ") + std::strerror(e));
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess(loop, pid, std::move(pidfd), std::move(on_exit)));
  ChildProcess* self = child.get();
  if (auto st = loop.watch(self->pidfd_.get(), EPOLLIN, [self](std::uint32_t) { self->reap(); }); !st)
    return st.error();
  return child;
}

void ChildProcess::stop(Duration grace) {
  if (!running_) return;
  ::kill(-pid_, SIGTERM);
  if (kill_timer_ == 0)
    kill_timer_ = loop_.schedule(grace, [this] {
      kill_timer_ = 0;
      if (running_) ::kill(-pid_, SIGKILL);
    });
}

void ChildProcess::reap() {
  siginfo_t info{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0) return;
  running_ = false;
  loop_.unwatch(pidfd_.get());
  loop_.cancel(kill_timer_);
  kill_timer_ = 0;
  // What it started in its group goes with it (a shell's background job, a server's workers).
  ::kill(-pid_, SIGKILL);
  ExitStatus status{info.si_code == CLD_EXITED, info.si_status};
  if (on_exit_) on_exit_(status);  // last: it may destroy this object
}

}  // namespace dmm::emu
