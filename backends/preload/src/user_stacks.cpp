#include "user_stacks.hpp"

#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "shim_guard.hpp"
#include "user_session.hpp"

namespace dmm::preload {
namespace {

// The plug-in sits next to the shim in the build tree and in an installation (both in LIBDIR).
std::string plugin_path() {
  if (const char* forced = std::getenv("DMM_LWIP_PLUGIN"); forced && *forced) return forced;
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&plugin_path), &info) == 0 || !info.dli_fname) return "libdmm_lwip_dpdk.so";
  return (std::filesystem::path(info.dli_fname).parent_path() / "libdmm_lwip_dpdk.so").string();
}

}  // namespace

std::unique_ptr<UserStacks> UserStacks::start(const std::vector<StackConfig>& configs,
                                              std::map<std::string, std::string>& failed, std::string& why,
                                              const KindLoader& load_kinds) {
  std::unique_ptr<UserStacks> self(new UserStacks());
  self->owner_ = ::getpid();
  self->sessions_ = std::make_unique<UserSessions>();
  // Its fds out of the program's way (a program that closes "its" fds must not close the stack's loop).
  auto executor = kernel::EpollExecutor::create(kernel::high_fd_floor());
  if (!executor) {
    why = executor.error().message;
    return nullptr;
  }
  self->executor_ = std::move(*executor);
  self->executor_->share_loop();
  // A program's thread doing stack work (its port's socket calls) is inside the shim for that stretch only.
  self->executor_->set_guest_hooks({[] { ++t_inside_shim; }, [] { --t_inside_shim; }});
  const Status loaded = load_kinds ? load_kinds(self->registry_, *self->executor_)
                                   : self->registry_.load_plugin(plugin_path());
  if (!loaded) {
    why = loaded.error().message;
    return nullptr;
  }
  self->world_ = std::make_unique<kernel::HostWorld>(*self->executor_);
  std::promise<void> ready;
  std::future<void> started = ready.get_future();
  // The thread takes no signal of the program's: its handlers must run on the program's own threads.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  // pthread_create rather than std::thread: the shim lives for the whole process and its thread never returns,
  // and std::thread's heap-held start state would then look leaked to LeakSanitizer at exit.
  self->pending_configs_ = &configs;
  self->ready_ = &ready;
  const int created = ::pthread_create(&self->thread_, nullptr, &UserStacks::thread_main, self.get());
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (created != 0) {
    why = std::string("cannot start the user-space stack thread: ") + std::strerror(created);
    return nullptr;
  }
  self->thread_started_ = true;
  started.wait();
  failed = self->failed_;
  return self;
}

void UserStacks::run(const std::vector<StackConfig>& configs, std::promise<void>& ready) {
  {
    InsideShim guard;  // the instances' own socket calls (DPDK's af_packet, EAL) are not the program's
    for (const StackConfig& config : configs) {
      auto stack = registry_.create(config, *world_);
      if (!stack) {
        failed_[config.name] = stack.error().message;
        continue;
      }
      world_->add_stack(**stack);
      stacks_[config.name] = std::move(*stack);
    }
  }
  // Every second, each live session's progress for nRD (sessions report once more when they end). Scheduled
  // before the program's threads may enter the loop (ready), as everything this thread does outside run().
  // A member, not a local of this function: with a shared loop a program's thread may run the timer too.
  sample_ = [this] {
    const TimePoint now = executor_->now();
    for (const auto& session : sessions_->all()) session->report_progress_now(now);
    executor_->schedule(std::chrono::seconds(1), sample_);
  };
  executor_->schedule(std::chrono::seconds(1), sample_);
  ready.set_value();
  InsideShim guard;  // for good: nothing this thread does is the program's
  (void)executor_->run();
}

void* UserStacks::thread_main(void* self) {
  auto* stacks = static_cast<UserStacks*>(self);
  stacks->run(*stacks->pending_configs_, *stacks->ready_);
  return nullptr;
}

UserStacks::~UserStacks() {
  if (executor_) executor_->stop();
  if (thread_started_) ::pthread_join(thread_, nullptr);
  // The loop is gone: connections are closed here, before the stacks and the executor they use.
  if (sessions_)
    for (const auto& session : sessions_->all()) session->close_when_stopped();
}

void UserStacks::drain(Duration timeout) {
  if (!in_owner_process()) return;
  // Sessions are not removed here: an exit handler that runs after this one may still use its socket (reads
  // work; writes meet the ended stream, EPIPE, as on a kernel socket after shutdown).
  post([this] {
    for (const auto& session : sessions_->all()) session->end_for_exit();
  });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // A bounded look at the stack thread: a posted task and a flag, never a wait without a deadline.
    auto busy = std::make_shared<std::atomic<int>>(-1);
    post([this, busy] {
      bool any = false;
      for (const auto& session : sessions_->all()) any = any || !session->delivered();
      for (const auto& [name, stack] : stacks_) any = any || stack->delivering();
      busy->store(any ? 1 : 0);
    });
    while (busy->load() < 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (busy->load() == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Stack* UserStacks::stack(const std::string& name) const {
  const auto it = stacks_.find(name);
  return it == stacks_.end() ? nullptr : it->second.get();
}

bool UserStacks::in_owner_process() const { return ::getpid() == owner_; }

}  // namespace dmm::preload
