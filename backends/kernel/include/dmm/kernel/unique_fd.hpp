#pragma once
// Ownership of one file descriptor: closed exactly once, by whoever holds it last (RAII for every fd).
#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace dmm::kernel {

class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    // close() errors are not actionable here: on Linux the fd is released even when close() reports one.
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

// `fd` at a number >= `floor` (the original closed; close-on-exec), or as it is when it is there already, `floor`
// is 0, or no number up there is free. Libraries that keep fds open inside a program put them out of the program's
// way with it (floor: high_fd_floor(), netns_socket_factory.hpp).
inline UniqueFd moved_at_or_above(UniqueFd fd, int floor) {
  if (floor <= 0 || !fd || fd.get() >= floor) return fd;
  const int high = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, floor);
  return high >= 0 ? UniqueFd(high) : std::move(fd);
}

}  // namespace dmm::kernel
