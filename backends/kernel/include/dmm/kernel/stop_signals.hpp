#pragma once
// SIGTERM and SIGINT as events on a daemon's loop (dmm-nrd, dmm-stackd): blocked, read from a signalfd, and the loop
// stopped between callbacks, never inside one (never between a request's setns/setfsuid switches). SIGPIPE is
// ignored: a peer that went away is an error on its socket, not the daemon's end.
#include <signal.h>

#include <memory>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::kernel {

class StopSignals {
public:
  // Blocks the signals in the calling thread (the loop's) and watches them on `loop`; the destructor restores the
  // thread's signal mask (a caller that lives on, such as a Python session, gets its Ctrl-C back).
  static Result<std::unique_ptr<StopSignals>> watch(EpollExecutor& loop);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int received() const { return received_; }  // the signal that stopped the loop; 0 while none has

private:
  StopSignals(EpollExecutor& loop, UniqueFd fd, sigset_t previous)
      : loop_(loop), fd_(std::move(fd)), previous_(previous) {}
  EpollExecutor& loop_;
  UniqueFd fd_;
  sigset_t previous_;
  int received_ = 0;
};

}  // namespace dmm::kernel
