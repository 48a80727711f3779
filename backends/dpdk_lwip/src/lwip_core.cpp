#include "lwip_core.hpp"

#include <lwip/init.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/timeouts.h>
#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <random>

namespace dmm::lwip_dpdk {
namespace {

// lwIP's own timers are 50 ms and coarser (lwipopts.h). Each tick also sends the delayed ACKs that are due
// (tcp_fasttmr): a lone segment is acknowledged within ~10 ms, far inside any peer's retransmission timeout.
constexpr auto kTick = std::chrono::milliseconds(10);

std::int64_t executor_ms(const Executor& executor) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(executor.now()).count();
}

}  // namespace

LwipCore& LwipCore::instance() {
  static LwipCore core;  // lwIP's global state outlives every stack: so does this
  return core;
}

Result<LwipCore*> LwipCore::attach(Executor& executor) {
  LwipCore& core = instance();
  if (core.users_ > 0 && core.executor_ != &executor)
    return make_error(EBUSY, "lwIP is one stack per process and already runs on another executor (thread); "
                             "every lwip-dpdk instance of a process must share one executor");
  if (core.users_++ > 0) return &core;
  core.executor_ = &executor;
  // Continue lwIP's clock where it stopped: its timeouts compare times, and a clock that went back would
  // postpone every pending timeout.
  core.base_ms_ = static_cast<std::int64_t>(core.last_ms_) - executor_ms(executor);
  static std::once_flag initialised;
  std::call_once(initialised, [] { lwip_init(); });  // lwIP's own timers start here, on this clock
  core.timer_ = executor.schedule(kTick, [&core] { core.tick(); });
  return &core;
}

void LwipCore::detach() {
  if (users_ == 0 || --users_ > 0) return;
  executor_->cancel(timer_);
  last_ms_ = now_ms();
  executor_ = nullptr;
}

std::uint32_t LwipCore::now_ms() const {
  if (executor_) last_ms_ = static_cast<std::uint32_t>(base_ms_ + executor_ms(*executor_));
  return last_ms_;
}

void LwipCore::tick() {
  sys_check_timeouts();
  tcp_fasttmr();
  timer_ = executor_->schedule(kTick, [this] { tick(); });
}

}  // namespace dmm::lwip_dpdk

// lwIP's clock (NO_SYS: the port provides it): the executor's.
extern "C" std::uint32_t sys_now(void) { return dmm::lwip_dpdk::LwipCore::instance().now_ms(); }

// LWIP_RAND (lwip_port/arch/cc.h): ephemeral port starts, MLD delays. The kernel's generator, so two processes
// (or two runs) do not start at the same port.
extern "C" std::uint32_t dmm_lwip_random(void) {
  std::uint32_t value = 0;
  for (;;) {
    if (::getrandom(&value, sizeof value, 0) == static_cast<ssize_t>(sizeof value)) return value;
    if (errno != EINTR) return std::random_device{}();  // no getrandom (a seccomp filter): the C++ library's
  }
}
