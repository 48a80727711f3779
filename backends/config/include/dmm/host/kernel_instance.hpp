#pragma once
// A kernel stack of the host config as the kernel backend opens it (InstanceSockets): the same settings for every
// program that opens instances — the preload shim, dmm-stackd. Header-only: its users link dmm_kernel already, and
// the host config library need not depend on the kernel backend.
#include "dmm/host/host_config.hpp"
#include "dmm/kernel/kernel_stack_config.hpp"

namespace dmm::host {

// `spec` must be a kernel stack (spec.kernel set).
inline kernel::KernelStackConfig kernel_stack_config(const StackSpec& spec) {
  kernel::KernelStackConfig config;
  config.name = spec.name;
  config.netns = spec.kernel->netns;
  config.protocol = spec.kernel->protocol == KernelProtocol::mptcp ? kernel::KernelProtocol::mptcp
                                                                   : kernel::KernelProtocol::tcp;
  config.congestion = spec.kernel->congestion;
  return config;
}

}  // namespace dmm::host
