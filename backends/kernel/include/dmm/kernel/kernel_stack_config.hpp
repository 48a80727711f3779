#pragma once
// One kernel stack instance's settings (DESIGN.md §2.5): its name, the network namespace its sockets live in,
// and whether its TCP sessions are opened as MPTCP.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/result.hpp"
#include "dmm/stack.hpp"
#include "dmm/stack_registry.hpp"

namespace dmm::kernel {

enum class KernelProtocol : std::uint8_t { tcp, mptcp };

struct KernelStackConfig {
  StackId name;
  std::optional<std::string> netns;  // a name under /run/netns; absent = the namespace of the creating thread
  KernelProtocol protocol = KernelProtocol::tcp;
  // TCP congestion control for the instance's connections (TCP_CONGESTION on each socket, as `cubic`); absent =
  // the namespace's default. Per socket because a namespace other than the machine's may only select the
  // congestion controls in tcp_allowed_congestion_control, while a socket of a privileged process may use any the
  // kernel has (dmm-emu gives each stack instance its scenario's variant this way).
  std::optional<std::string> congestion;
};

// The parameter keys of kind `kernel` in a StackConfig.
std::vector<std::string> kernel_stack_params();

// From the registry's text form (`netns: NAME`, `protocol: tcp|mptcp`); EINVAL naming the bad parameter.
Result<KernelStackConfig> parse_kernel_stack_config(const StackConfig& config);

std::string_view to_string(KernelProtocol protocol);

}  // namespace dmm::kernel
