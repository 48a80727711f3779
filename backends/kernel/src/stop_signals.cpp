#include "dmm/kernel/stop_signals.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "dmm/kernel/sys_error.hpp"

namespace dmm::kernel {

Result<std::unique_ptr<StopSignals>> StopSignals::watch(EpollExecutor& loop) {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  ::sigprocmask(SIG_BLOCK, &stop, nullptr);
  UniqueFd fd(::signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) return last_sys_error("signalfd");
  std::unique_ptr<StopSignals> signals(new StopSignals(loop, std::move(fd)));
  StopSignals* self = signals.get();
  const int sfd = self->fd_.get();
  if (!loop.watch(sfd, EPOLLIN, [self, sfd](std::uint32_t) {
        signalfd_siginfo info{};
        if (::read(sfd, &info, sizeof info) == sizeof info) self->received_ = static_cast<int>(info.ssi_signo);
        self->loop_.stop();
      }))
    return make_error(EIO, "cannot watch the signal fd");
  return signals;
}

StopSignals::~StopSignals() { loop_.unwatch(fd_.get()); }

}  // namespace dmm::kernel
