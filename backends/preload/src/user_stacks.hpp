#pragma once
// The user-space stack instances (lwip-dpdk) of a program under the shim: their plug-in (libdmm_lwip_dpdk.so,
// loaded only when the host config names such an instance), and the one thread that runs them — an EpollExecutor
// whose pollers move the instances' frames. The loop is shared (EpollExecutor::share_loop): an application thread
// runs stack work itself under the loop lock (call()), so lwIP and DPDK see one thread at a time; the stack
// thread does what nobody asked for (frames that arrive, timers) and what is post()ed.
#include <pthread.h>
#include <sys/types.h>

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/host_world.hpp"
#include "dmm/stack_registry.hpp"

namespace dmm::preload {

class UserSessions;

class UserStacks {
public:
  // Registers the stack kinds the instances need, on the executor that will run them.
  using KindLoader = std::function<Status(StackRegistry&, kernel::EpollExecutor&)>;

  // Loads the kinds (by default the plug-in next to libdmm_preload.so, or DMM_LWIP_PLUGIN) and starts the
  // thread, which creates every instance. An instance that cannot be created is left out with its reason in
  // `failed`; nullptr (reason in `why`) only when the kinds or the thread cannot start at all. Tests pass their
  // own `load_kinds` to run sessions over any stack kind.
  static std::unique_ptr<UserStacks> start(const std::vector<StackConfig>& configs,
                                           std::map<std::string, std::string>& failed, std::string& why,
                                           const KindLoader& load_kinds = {});
  ~UserStacks();  // never called in practice: the shim lives as long as the process

  // An instance by name (nullptr if it failed); its methods may only be called on the stack thread.
  Stack* stack(const std::string& name) const;
  kernel::EpollExecutor& executor() { return *executor_; }

  // Runs `fn` as stack work on this thread (under the loop lock; no hand-off, no wake-up) and returns its result;
  // from any thread of the owning process that holds no session's mutex (the lock order is loop, then session)
  // and is not running stack work already.
  template <typename Fn>
  auto call(Fn&& fn) -> decltype(fn()) {
    return executor_->run_here(std::forward<Fn>(fn));
  }
  void post(std::function<void()> fn) { executor_->post(std::move(fn)); }
  // A blocking call's wait: this thread takes the stack's frames itself until `news()` (EpollExecutor::
  // drive_until); nullopt if another thread does already (then wait on the fd as usual). Same rules as call().
  std::optional<kernel::EpollExecutor::Driven> drive_until(const std::function<bool()>& news, int fd, short events,
                                                          Duration timeout) {
    return executor_->drive_until(news, fd, events, timeout);
  }

  // At the program's exit: closes every session still open (as the kernel closes a dying process's sockets) and
  // waits, at most `timeout`, until the stacks have delivered what was written and the FINs. Owner process only.
  void drain(Duration timeout);

  // False in a child made by fork: the stack thread (and DPDK) exist only in the process that started them.
  bool in_owner_process() const;
  UserSessions& sessions() { return *sessions_; }

private:
  UserStacks() = default;
  static void* thread_main(void* self);
  void run(const std::vector<StackConfig>& configs, std::promise<void>& ready);

  pid_t owner_ = 0;
  std::unique_ptr<UserSessions> sessions_;
  std::unique_ptr<kernel::EpollExecutor> executor_;
  std::unique_ptr<kernel::HostWorld> world_;
  StackRegistry registry_;
  std::map<std::string, std::unique_ptr<Stack>> stacks_;
  std::map<std::string, std::string> failed_;
  std::function<void()> sample_;  // every second: the live sessions' progress for nRD
  pthread_t thread_{};
  bool thread_started_ = false;
  const std::vector<StackConfig>* pending_configs_ = nullptr;  // start() -> the thread, until it is ready
  std::promise<void>* ready_ = nullptr;
};

}  // namespace dmm::preload
