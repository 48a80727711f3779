#include "dmm/kernel/kernel_stack_config.hpp"

namespace dmm::kernel {

std::vector<std::string> kernel_stack_params() { return {"netns", "protocol", "congestion"}; }

std::string_view to_string(KernelProtocol protocol) { return protocol == KernelProtocol::mptcp ? "mptcp" : "tcp"; }

Result<KernelStackConfig> parse_kernel_stack_config(const StackConfig& config) {
  KernelStackConfig out;
  out.name = config.name;
  for (const auto& [key, value] : config.params) {
    if (key == "netns") {
      if (value.empty() || value.find('/') != std::string::npos || value == "." || value == "..")
        return make_error(EINVAL, "stack '" + config.name + "': invalid netns '" + value + "'");
      out.netns = value;
    } else if (key == "protocol") {
      if (value == "tcp") out.protocol = KernelProtocol::tcp;
      else if (value == "mptcp") out.protocol = KernelProtocol::mptcp;
      else return make_error(EINVAL, "stack '" + config.name + "': unknown protocol '" + value + "' (tcp, mptcp)");
    } else if (key == "congestion") {
      if (value.empty() || value.size() > 15)
        return make_error(EINVAL, "stack '" + config.name + "': invalid congestion control '" + value + "'");
      out.congestion = value;
    } else {
      return make_error(EINVAL, "stack '" + config.name + "': kind 'kernel' has no parameter '" + key + "'");
    }
  }
  return out;
}

}  // namespace dmm::kernel
