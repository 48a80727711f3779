#pragma once
// The process's lwIP. lwIP is one stack per process (its state is global), so this is the backend's
// second singleton (with DpdkEnvironment): every lwip-dpdk instance is a netif of this one stack, pinned to it
// with tcp_bind_netif/udp_bind_netif. lwIP's clock (sys_now) and its timers come from the executor of the stacks
// attached to it, so lwIP reads time only through an Executor; all lwIP calls are made on that executor's thread
// (the raw API, single-threaded: no tcpip thread, no core lock).
#include "dmm/executor.hpp"
#include "dmm/result.hpp"

namespace dmm::lwip_dpdk {

class LwipCore {
public:
  // Attaches a user (a stack instance). The first user's executor drives lwIP until the last user detaches;
  // meanwhile every user must bring the same executor (EBUSY otherwise: lwIP cannot run on two threads).
  static Result<LwipCore*> attach(Executor& executor);
  void detach();

  Executor& executor() const { return *executor_; }
  // lwIP's clock in ms: continuous across executors (a later executor's clock starts where the last one was).
  std::uint32_t now_ms() const;

  // The one instance (for sys_now, which lwIP calls without context).
  static LwipCore& instance();

private:
  LwipCore() = default;
  void tick();  // runs lwIP's due timeouts and re-arms itself

  Executor* executor_ = nullptr;
  int users_ = 0;
  TimerId timer_ = 0;
  std::int64_t base_ms_ = 0;  // added to the executor's clock
  mutable std::uint32_t last_ms_ = 0;
};

}  // namespace dmm::lwip_dpdk
