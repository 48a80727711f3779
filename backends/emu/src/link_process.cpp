#include "link_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include "command.hpp"

namespace dmm::emu {

Result<std::unique_ptr<LinkProcess>> LinkProcess::start(const std::string& linkemu, const std::string& emulator_namespace,
                                                        const EmulatorSpec& spec, const std::string& spec_path,
                                                        const std::string& log_path) {
  {
    std::ofstream out(spec_path);
    out << emulator_spec_json(spec);
    if (!out) return make_error(EIO, "cannot write " + spec_path);
  }
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0)
    return make_error(errno, std::string("pipe: ") + std::strerror(errno));
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) return make_error(errno, "cannot write " + log_path + ": " + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(errno, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The emulator must not outlive dmm-emu, however dmm-emu ends (kept across `ip netns exec`'s exec).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(3);
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    // dmm-emu blocks SIGINT/SIGTERM for its signalfd; the child starts with the defaults.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_IGN);  // Ctrl-C goes to dmm-emu, which ends the run and then this process
    const char* argv[] = {"ip", "netns", "exec", emulator_namespace.c_str(), linkemu.c_str(), spec_path.c_str(),
                          nullptr};
    ::execvp("ip", const_cast<char**>(argv));
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(log);
  std::unique_ptr<LinkProcess> p(new LinkProcess(pid, in_pipe[1], out_pipe[0], log_path));
  auto ready = p->read_line(std::chrono::seconds(10));
  if (!ready) return ready.error();
  if (*ready != "ready") return make_error(EIO, "link emulator said '" + *ready + "' instead of ready");
  return p;
}

LinkProcess::~LinkProcess() {
  if (to_child_ >= 0) ::close(to_child_);
  if (from_child_ >= 0) ::close(from_child_);
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

Status LinkProcess::go() {
  const char line[] = "go\n";
  if (::write(to_child_, line, sizeof line - 1) != static_cast<ssize_t>(sizeof line - 1))
    return make_error(EIO, "the link emulator is gone" + log_tail());
  return {};
}

Result<EmulatorStats> LinkProcess::finish(Duration timeout) {
  auto line = read_line(timeout);
  if (!line) return line.error();
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return parse_emulator_stats(*line);
}

Result<std::string> LinkProcess::read_line(Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return make_error(ETIMEDOUT, "the link emulator did not answer in time" + log_tail());
    pollfd p{from_child_, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buffer[65536];
    const ssize_t got = ::read(from_child_, buffer, sizeof buffer);
    if (got <= 0) return make_error(EIO, "the link emulator ended" + log_tail());
    buffered_.append(buffer, static_cast<std::size_t>(got));
  }
}

std::string LinkProcess::log_tail() const {
  const std::string s = file_tail(log_path_, 400);
  return s.empty() ? "" : " (" + s + ")";
}

}  // namespace dmm::emu
