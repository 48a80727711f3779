#include "lwip_core.hpp"

#include <lwip/init.h>
#include <lwip/timeouts.h>

#include <chrono>
#include <mutex>

namespace dmm::lwip_dpdk {
namespace {

// lwIP's timers need no finer step: TCP's run every 250 ms, ARP's every second.
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
  timer_ = executor_->schedule(kTick, [this] { tick(); });
}

}  // namespace dmm::lwip_dpdk

// lwIP's clock. The library has its own (CLOCK_MONOTONIC); this definition takes precedence (the program, or a
// plug-in loaded before liblwip in the lookup order, defines it first), so lwIP's time is the executor's.
extern "C" __attribute__((visibility("default"))) std::uint32_t sys_now(void) {
  return dmm::lwip_dpdk::LwipCore::instance().now_ms();
}
