#pragma once
// One JSON line per session decision (issue 4 "decisions are visible"), appended to DMM_LOG or the config's
// log.decisions. Each line is a single write() on an O_APPEND fd: the kernel appends it whole, so lines of
// concurrent threads and processes (a forked server, several programs sharing a log) never interleave.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace dmm::preload {

struct DecisionLine {
  int fd = -1;
  // connect | sendto | sendmsg | sendmmsg | listen | bind | race (how a race ended) | local-health (the shim's
  // circuit breaker marked a stack down or up: `stack`, `healthy`, `why`; no session, fd -1)
  std::string_view event;
  std::string_view dst;       // `10.0.0.1:80`, `[fd00::1]:80`
  std::string_view proto;     // tcp | udp
  std::string_view intent;
  std::string_view stack;     // empty = none (no rule matched: the program's own namespace, untouched)
  int rule = -1;
  std::uint64_t policy_version = 0;
  std::string_view fallback_from;  // the stack that failed before this one, if any
  std::string_view error;          // why this stack could not be used, if it could not
  int options_refused = 0;         // recorded options the re-created socket refused (e.g. SO_BINDTODEVICE to a
                                   // device that is not in the instance's namespace)
  bool options_dropped = false;    // options that could not be recorded (too many, too large, pointers)
  bool predicted = false;          // socket() had already made the socket on this stack (Shim::predicted_stack)
  int epoll_refused = 0;           // epoll registrations the kernel would not make again for the new socket
  bool epoll_dropped = false;      // registered in more epoll sets than the shim records: not all followed
  std::string_view race;           // event "race": the rule's race mode
  std::string_view attempts;       // event "race": every attempt and its outcome, as sessions.csv's column
  int healthy = -1;                // event "local-health": 0 marked down, 1 up again
  std::string_view why;            // event "local-health": the reason
};

class DecisionLog {
public:
  // Opens (creating) `path` for appending. False (and the log stays off) if it cannot be opened.
  bool open(const std::string& path);
  bool enabled() const { return !path_.empty(); }
  void write(const DecisionLine& line);
  // The program closed or replaced `fd`: if it was ours, stop writing to it (it is reopened on the next line).
  void forget_fd(int fd);

private:
  int current_fd(bool& temporary);

  std::string path_;
  std::atomic<int> fd_{-1};
  dev_t dev_ = 0;  // identity of the file at open(); never changes afterwards
  ino_t ino_ = 0;
};

}  // namespace dmm::preload
