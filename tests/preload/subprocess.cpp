#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace dmm::test {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// In a sanitizer build the shim needs the ASan runtime, which the programs it is preloaded into (curl, python3,
// iperf3) do not link: the runtime then arrives as the shim's dependency, after it in the library list, which
// ASan refuses by default. It works (the runtime is still loaded before the program runs), so say so, once, in
// the environment every child inherits. Set here, before the first fork, not in the child (setenv allocates).
void relax_asan_link_order() {
#ifdef DMM_PRELOAD_SANITIZED
  static std::once_flag once;
  std::call_once(once, [] {
    const char* current = std::getenv("ASAN_OPTIONS");
    std::string options = current && *current ? std::string(current) + ":" : std::string();
    setenv("ASAN_OPTIONS", (options + "verify_asan_link_order=0").c_str(), 1);
  });
#endif
}

}  // namespace

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

Child Child::spawn(const std::vector<std::string>& argv) {
  relax_asan_link_order();
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  char err_template[] = "/tmp/dmmp-stderr-XXXXXX";
  const int err_fd = mkstemp(err_template);
  if (err_fd < 0) throw std::runtime_error("mkstemp failed");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Own process group, so that a timeout kills everything the command started (ip netns exec -> dmm-run ->
    // program -> its children).
    setpgid(0, 0);
    dup2(out[1], STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent: whichever runs first, the group exists before we may kill it
  close(out[1]);
  close(err_fd);
  Child c;
  c.pid_ = pid;
  c.pidfd_ = pidfd_open(pid);
  c.out_fd_ = out[0];
  c.err_path_ = err_template;
  return c;
}

Child::Child(Child&& o) noexcept
    : pid_(o.pid_), pidfd_(o.pidfd_), out_fd_(o.out_fd_), err_path_(std::move(o.err_path_)),
      buffered_(std::move(o.buffered_)), reaped_(o.reaped_) {
  o.pid_ = -1;
  o.pidfd_ = -1;
  o.out_fd_ = -1;
  o.reaped_ = true;
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    kill_group();
    waitpid(pid_, nullptr, 0);
  }
  if (pidfd_ >= 0) close(pidfd_);
  if (out_fd_ >= 0) close(out_fd_);
  if (!err_path_.empty()) unlink(err_path_.c_str());
}

void Child::kill_group() {
  if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
}

bool Child::fill(std::chrono::steady_clock::time_point deadline) {
  if (out_fd_ < 0) return false;
  pollfd p{out_fd_, POLLIN, 0};
  const int ready = poll(&p, 1, remaining_ms(deadline));
  if (ready <= 0) return false;
  char buf[4096];
  const ssize_t n = read(out_fd_, buf, sizeof buf);
  if (n <= 0) {
    close(out_fd_);
    out_fd_ = -1;
    return false;
  }
  buffered_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

Outcome Child::wait(std::chrono::milliseconds timeout) {
  Outcome o;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Drain stdout while waiting, so that a chatty child never blocks on a full pipe.
  while (out_fd_ >= 0 && fill(deadline)) {
  }
  pollfd p{pidfd_, POLLIN, 0};
  const bool exited = poll(&p, 1, remaining_ms(deadline)) > 0;
  if (!exited) kill_group();
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
  o.finished = exited;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = std::move(buffered_);
  if (out_fd_ >= 0) {
    // Non-blocking: a process outside the group (it would have to daemonise) must not hold us here.
    fcntl(out_fd_, F_SETFL, O_NONBLOCK);
    char buf[4096];
    ssize_t n;
    while ((n = read(out_fd_, buf, sizeof buf)) > 0) o.out.append(buf, static_cast<std::size_t>(n));
  }
  o.err = read_file(err_path_);
  return o;
}

Outcome run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  return Child::spawn(argv).wait(timeout);
}

}  // namespace dmm::test
