#include "core_client.hpp"

#include "core_workloads.hpp"
#include "dmm/kernel/host_world.hpp"
#include "dmm/kernel/kernel_stack_kind.hpp"
#include "dmm/lwip_dpdk/lwip_dpdk_stack_kind.hpp"

namespace dmm::bench {

Result<nlohmann::json> run_core_client(const CoreClientOptions& options) {
  auto executor = kernel::EpollExecutor::create();
  if (!executor) return executor.error();
  kernel::HostWorld world(**executor);
  StackRegistry registry;
  if (Status s = kernel::register_kernel_stack_kind(registry, **executor); !s) return s.error();
  if (Status s = lwip_dpdk::register_lwip_dpdk_stack_kind(registry); !s) return s.error();
  if (!registry.find(options.stack_kind))
    return make_error(EINVAL, "unknown stack kind '" + options.stack_kind + "' (kernel, lwip-dpdk)");
  auto stack = registry.create(StackConfig{"bench", options.stack_kind, options.params}, world);
  if (!stack) return stack.error();
  Stack& s = **stack;
  if (options.workload == "pingpong")
    return run_core_pingpong(s, **executor, options.to, options.count, options.warmup, options.size);
  if (options.workload == "bulk") return run_core_bulk(s, **executor, options.to, options.duration, options.write_size);
  if (options.workload == "udp-flood") {
    std::function<std::uint64_t()> frames;
    if (lwip_dpdk::lwip_dpdk_frames_sent(s)) frames = [&s] { return *lwip_dpdk::lwip_dpdk_frames_sent(s); };
    return run_core_udp_flood(s, **executor, options.to, options.duration, options.size, frames);
  }
  return make_error(EINVAL, "unknown workload '" + options.workload + "' for --api core (pingpong, bulk, udp-flood)");
}

}  // namespace dmm::bench
