#pragma once
// Registers the stack kind `kernel` (parameters `netns`, `protocol`) with a registry; its instances run on the
// given executor, which must outlive them.
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/stack_registry.hpp"

namespace dmm::kernel {

// EEXIST if the registry already has a kind `kernel`.
Status register_kernel_stack_kind(StackRegistry& registry, EpollExecutor& executor);

}  // namespace dmm::kernel
