#include "dmm/kernel/host_world.hpp"

namespace dmm::kernel {

Stack* HostWorld::find_stack(const StackId& id) {
  const auto it = stacks_.find(id);
  return it == stacks_.end() ? nullptr : it->second;
}

}  // namespace dmm::kernel
