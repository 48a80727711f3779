#pragma once
// The StackWorld of a real host: stack factories get the host's EpollExecutor (as the core's Executor), its
// polling loop for poll-mode kinds (lwip-dpdk), and the instances made so far by name.
#include <map>
#include <string>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/stack_registry.hpp"

namespace dmm::kernel {

class HostWorld final : public StackWorld {
public:
  explicit HostWorld(EpollExecutor& executor) : executor_(executor) {}

  Executor& executor() override { return executor_; }
  Stack* find_stack(const StackId& id) override;
  Result<PollerId> add_poller(std::function<bool()> poll, int wake_fd = -1) override {
    return executor_.add_poller(std::move(poll), wake_fd);
  }
  void remove_poller(PollerId id) override { executor_.remove_poller(id); }

  // Makes `stack` findable by later factories (the world does not own it).
  void add_stack(Stack& stack) { stacks_[stack.info().id] = &stack; }

private:
  EpollExecutor& executor_;
  std::map<StackId, Stack*> stacks_;
};

}  // namespace dmm::kernel
