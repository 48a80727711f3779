#include "decision_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "real_calls.hpp"

namespace dmm::preload {
namespace {

// The log fd belongs to the shim, not the program: keep it out of the low numbers that programs (shells,
// daemons) dup2 onto by convention, so a collision stays rare. Failure to move it is harmless.
constexpr int kLogFdFloor = 512;

int open_log(const std::string& path, dev_t& dev, ino_t& ino) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) return -1;
  int moved = real().fcntl(fd, F_DUPFD_CLOEXEC, kLogFdFloor);
  int use = fd;
  if (moved >= 0) {
    real().close(fd);
    use = moved;
  }
  struct stat st {};
  if (fstat(use, &st) != 0) {
    real().close(use);
    return -1;
  }
  dev = st.st_dev;
  ino = st.st_ino;
  return use;
}

// Appends `text` as a JSON string body; names and addresses need no escaping beyond quotes and backslashes,
// but a stack name comes from a config file, so escape the lot rather than trust it.
void append_escaped(char*& out, char* end, std::string_view text) {
  for (char c : text) {
    if (end - out < 7) return;
    if (c == '"' || c == '\\') {
      *out++ = '\\';
      *out++ = c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += std::snprintf(out, end - out, "\\u%04x", c);
    } else {
      *out++ = c;
    }
  }
}

}  // namespace

bool DecisionLog::open(const std::string& path) {
  const int fd = open_log(path, dev_, ino_);
  if (fd < 0) return false;
  path_ = path;
  fd_.store(fd, std::memory_order_release);
  return true;
}

void DecisionLog::forget_fd(int fd) {
  // Runs in every close(): a plain load first, the locked compare-exchange only for our own fd.
  int expected = fd;
  if (fd >= 0 && fd_.load(std::memory_order_relaxed) == fd)
    fd_.compare_exchange_strong(expected, -1, std::memory_order_acq_rel);
}

int DecisionLog::current_fd(bool& temporary) {
  temporary = false;
  int fd = fd_.load(std::memory_order_acquire);
  if (fd >= 0) {
    // close_range(), glibc-internal closes and exec'ed children are invisible to the shim: make sure the number
    // still names our file before writing into it.
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) return fd;
    // Not ours any more (the program reused the number): forget it, never close it.
    fd_.compare_exchange_strong(fd, -1, std::memory_order_acq_rel);
  }
  dev_t dev = 0;
  ino_t ino = 0;
  const int fresh = open_log(path_, dev, ino);
  if (fresh < 0) return -1;
  // The identity (dev_, ino_) is fixed at open() and never written again, so threads need no lock to compare
  // against it. The same file again: cache the new fd. A rotated file: use this fd for one line only.
  int none = -1;
  if (dev == dev_ && ino == ino_ && fd_.compare_exchange_strong(none, fresh, std::memory_order_acq_rel))
    return fresh;
  temporary = true;
  return fresh;
}

void DecisionLog::write(const DecisionLine& l) {
  if (!enabled()) return;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  char buf[1024];
  char* out = buf;
  char* const end = buf + sizeof buf - 2;  // room for "}\n"
  auto put = [&](const char* fmt, auto... args) {
    if (out < end) {
      const int n = std::snprintf(out, end - out, fmt, args...);
      if (n > 0) out += (n < end - out) ? n : (end - out);
    }
  };
  auto put_string = [&](const char* key, std::string_view value) {
    put(",\"%s\":\"", key);
    append_escaped(out, const_cast<char*>(end), value);
    put("\"");
  };
  put("{\"time\":%lld.%06ld,\"pid\":%d,\"fd\":%d", static_cast<long long>(now.tv_sec), now.tv_nsec / 1000,
      static_cast<int>(getpid()), l.fd);
  put_string("event", l.event);
  // A line about a session names it; one about a stack (local-health) has none.
  if (!l.dst.empty()) put_string("dst", l.dst);
  if (!l.proto.empty()) put_string("proto", l.proto);
  if (!l.intent.empty()) put_string("intent", l.intent);
  if (l.stack.empty())
    put(",\"stack\":null");
  else
    put_string("stack", l.stack);
  // A line about a stack (local-health) was decided by no rule.
  if (l.healthy < 0)
    put(",\"rule\":%d,\"policy_version\":%llu", l.rule, static_cast<unsigned long long>(l.policy_version));
  if (!l.fallback_from.empty()) put_string("fallback_from", l.fallback_from);
  if (!l.error.empty()) put_string("error", l.error);
  if (l.options_refused > 0) put(",\"options_refused\":%d", l.options_refused);
  if (l.options_dropped) put(",\"options_dropped\":true");
  if (l.predicted) put(",\"predicted\":true");
  if (l.epoll_refused > 0) put(",\"epoll_refused\":%d", l.epoll_refused);
  if (l.epoll_dropped) put(",\"epoll_dropped\":true");
  if (!l.race.empty()) put_string("race", l.race);
  if (!l.attempts.empty()) put_string("attempts", l.attempts);
  if (l.healthy >= 0) put(",\"healthy\":%s", l.healthy ? "true" : "false");
  if (!l.why.empty()) put_string("why", l.why);
  if (out > end) out = const_cast<char*>(end);
  *out++ = '}';
  *out++ = '\n';
  bool temporary = false;
  const int fd = current_fd(temporary);
  if (fd < 0) return;
  // One write: O_APPEND makes it land whole at the end. A short write (disk full) loses the tail of one line;
  // nothing to retry that would not risk interleaving.
  [[maybe_unused]] const ssize_t n = ::write(fd, buf, static_cast<size_t>(out - buf));
  if (temporary) real().close(fd);
}

}  // namespace dmm::preload
