#include "dmm/kernel/kernel_stack_kind.hpp"

#include "dmm/kernel/kernel_stack.hpp"
#include "dmm/kernel/kernel_stack_config.hpp"

namespace dmm::kernel {

Status register_kernel_stack_kind(StackRegistry& registry, EpollExecutor& executor) {
  // The executor is captured rather than taken from the StackWorld: a world hands out the core's Executor
  // interface, and kernel connections need the epoll loop behind it to watch their sockets.
  StackFactory factory = [&executor](const StackConfig& config, StackWorld&) -> Result<std::unique_ptr<Stack>> {
    auto parsed = parse_kernel_stack_config(config);
    if (!parsed) return parsed.error();
    auto stack = KernelStack::create(std::move(*parsed), executor);
    if (!stack) return stack.error();
    return std::unique_ptr<Stack>(std::move(*stack));
  };
  return registry.add(StackKind{"kernel", kernel_stack_params(), std::move(factory)});
}

}  // namespace dmm::kernel
