#pragma once
// Child processes for the preload tests: spawned with their own process group, stdout on a pipe (read line by
// line with a deadline) and stderr in a file, waited for with a deadline through a pidfd (no sleeps), killed
// (the whole group) if still running when the handle goes away.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace dmm::test {

struct Outcome {
  bool finished = false;  // false: timed out and killed
  int exit_code = -1;     // exit status, or 128+signal
  std::string out;
  std::string err;
};

class Child {
public:
  static Child spawn(const std::vector<std::string>& argv);
  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  Child(const Child&) = delete;
  ~Child();

  // The next line of stdout (without '\n'); nullopt at end of output or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Waits for exit; the rest of stdout and all of stderr are collected.
  Outcome wait(std::chrono::milliseconds timeout);
  void kill_group();
  pid_t pid() const { return pid_; }

private:
  Child() = default;
  bool fill(std::chrono::steady_clock::time_point deadline);  // reads more stdout; false at EOF or deadline

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1;
  std::string err_path_;
  std::string buffered_;
  bool reaped_ = false;
};

// spawn + wait.
Outcome run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// For messages: the command line as one string.
std::string join(const std::vector<std::string>& argv);

}  // namespace dmm::test
