#include "bench_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace dmm::bench {
namespace {

using Clock = std::chrono::steady_clock;

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// In the child between fork and exec: only async-signal-safe calls; failures reported on stderr, exit 127.
[[noreturn]] void die_in_child(const char* what) {
  const char* reason = std::strerror(errno);
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, "dmm-bench: ", 11);
  n = ::write(STDERR_FILENO, what, std::strlen(what));
  n = ::write(STDERR_FILENO, ": ", 2);
  n = ::write(STDERR_FILENO, reason, std::strlen(reason));
  n = ::write(STDERR_FILENO, "\n", 1);
  ::_exit(127);
}

[[noreturn]] void exec_child(char* const* argv, char* const* envp, int netns_fd, int out_fd) {
  ::setpgid(0, 0);  // its own group, so a timeout kills the program *and* anything it started
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // dmm-bench blocks SIGINT/SIGTERM for its signalfd; exec keeps masks
  if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) die_in_child("setns");
  if (::dup2(out_fd, STDOUT_FILENO) < 0) die_in_child("dup2");
  ::execvpe(argv[0], argv, envp);
  die_in_child(argv[0]);
}

}  // namespace

std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

Result<ProcessOutcome> run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra,
                                   const std::string& netns_path, std::chrono::milliseconds timeout,
                                   int cancel_fd) {
  if (argv.empty()) return make_error(EINVAL, "empty command");
  // Everything the child needs is built before fork: the child of a threaded parent may not allocate.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings(env_extra);
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& extra : env_extra) overridden = overridden || extra.compare(0, name.size() + 1, name + "=") == 0;
    if (!overridden) env_strings.push_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int netns_fd = -1;
  if (!netns_path.empty()) {
    netns_fd = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) return make_error(errno, "cannot open " + netns_path + ": " + std::strerror(errno));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const int err = errno;
    if (netns_fd >= 0) ::close(netns_fd);
    return make_error(err, std::string("pipe: ") + std::strerror(err));
  }
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(args.data(), envp.data(), netns_fd, pipe_fds[1]);
  const int fork_errno = errno;
  if (pid > 0) ::setpgid(pid, pid);  // as the child does: whichever runs first, the group exists before a kill
  ::close(pipe_fds[1]);
  if (netns_fd >= 0) ::close(netns_fd);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return make_error(fork_errno, std::string("fork: ") + std::strerror(fork_errno));
  }

  ProcessOutcome outcome;
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false, cancelled = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[2] = {{pipe_fds[0], POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const int ready = ::poll(p, cancel_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline is checked above
    if (cancel_fd >= 0 && (p[1].revents & POLLIN)) {
      cancelled = true;
      break;
    }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char buffer[4096];
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child closed stdout (normally by exiting)
    outcome.out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out || cancelled) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (cancelled) return make_error(ECANCELED, join_command(argv) + ": interrupted");
  if (timed_out)
    return make_error(ETIMEDOUT, join_command(argv) + ": still running after " + std::to_string(timeout.count()) +
                                     " ms, killed");
  outcome.exit_code = decode_status(status);
  return outcome;
}

Result<BackgroundProcess> BackgroundProcess::start(const std::vector<std::string>& argv,
                                                   const std::string& netns_path) {
  if (argv.empty()) return make_error(EINVAL, "empty command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int netns_fd = -1;
  if (!netns_path.empty()) {
    netns_fd = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) return make_error(errno, "cannot open " + netns_path + ": " + std::strerror(errno));
  }
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0) {
    const int err = errno;
    if (netns_fd >= 0) ::close(netns_fd);
    return make_error(err, std::string("/dev/null: ") + std::strerror(err));
  }
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(args.data(), environ, netns_fd, null_fd);
  const int fork_errno = errno;
  if (pid > 0) ::setpgid(pid, pid);
  ::close(null_fd);
  if (netns_fd >= 0) ::close(netns_fd);
  if (pid < 0) return make_error(fork_errno, std::string("fork: ") + std::strerror(fork_errno));
  return BackgroundProcess(pid);
}

bool BackgroundProcess::running() const {
  if (pid_ < 0) return false;
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ < 0) return;
  ::kill(-pid_, SIGTERM);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

Status ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  // ip's own complaints go to stderr (passed through); a failure names the command.
  auto outcome = run_process(argv, {}, "", std::chrono::seconds(10));
  if (!outcome) return outcome.error();
  if (outcome->exit_code != 0)
    return make_error(EIO, join_command(argv) + " failed (exit " + std::to_string(outcome->exit_code) + ")");
  return {};
}

}  // namespace dmm::bench
