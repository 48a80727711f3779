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
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &stop, &previous);
  UniqueFd fd(::signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) {
    const Error e = last_sys_error("signalfd");
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return e;
  }
  std::unique_ptr<StopSignals> signals(new StopSignals(loop, std::move(fd), previous));
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

StopSignals::~StopSignals() {
  loop_.unwatch(fd_.get());
  fd_ = UniqueFd();
  // A stop signal that arrived after the loop stopped stays pending, and is delivered as usual once unblocked.
  ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

}  // namespace dmm::kernel
