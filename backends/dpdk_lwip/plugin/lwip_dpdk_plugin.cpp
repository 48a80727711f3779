// libdmm_lwip_dpdk.so: the lwip-dpdk stack kind as a plug-in, so that programs that never use a user-space stack
// (the preload shim with kernel instances only) never load DPDK or lwIP. lwIP is linked in statically (the
// project's own build of it, lwip_port/lwipopts.h) and stays local to this library.
#include "dmm/lwip_dpdk/lwip_dpdk_stack_kind.hpp"

extern "C" __attribute__((visibility("default"))) void dmm_register_stack_kinds(dmm::StackRegistry& registry) {
  (void)dmm::lwip_dpdk::register_lwip_dpdk_stack_kind(registry);
}
