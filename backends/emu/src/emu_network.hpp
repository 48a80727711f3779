#pragma once
// Makes an EmuPlan real (namespaces, veths with offloads off, addresses, routes) and takes
// it down again: at the end of a run, on a signal, and, for a run that was killed, at the start of the next one.
#include <filesystem>
#include <memory>
#include <string>

#include "dmm/result.hpp"
#include "emu_plan.hpp"

namespace dmm::emu {

class EmuNetwork {
public:
  // Creates everything in `plan`; on failure removes what it made and names the step that failed.
  static Result<std::unique_ptr<EmuNetwork>> create(const EmuPlan& plan);
  ~EmuNetwork();  // removes every namespace (their veths go with them)
  EmuNetwork(const EmuNetwork&) = delete;
  EmuNetwork& operator=(const EmuNetwork&) = delete;

  // Sets a stack's link interface down or up (a scenario's `stack: fail` / `recover` on real stacks).
  Status set_stack_link(const StackPlan& stack, bool up) const;

  // Sets the hosts' interfaces on a link down or up (a scenario's link `down` / `up`): in dmm-sim a link that goes
  // down takes its two ends' interfaces down with it, so the hosts see it at once (new connections fail with
  // ENETUNREACH, as they do in ns-3) instead of timing out behind an emulated link that silently drops.
  Status set_link_hosts(std::size_t link, bool up) const;

private:
  explicit EmuNetwork(EmuPlan plan) : plan_(std::move(plan)) {}
  void remove_all();
  // Up again: the kernel dropped the namespace's routes through the interface when it went down.
  Status set_up_with_routes(const std::string& ns, const std::string& interface, bool up) const;
  EmuPlan plan_;
  std::vector<std::string> made_;  // namespaces created so far
};

// The namespace prefix of this process's runs (dmme<pid>-).
std::string emu_prefix_for_this_process();

// Where runs keep their scratch directories (<root>/<prefix>: the programs' nRD socket, servers' files).
std::filesystem::path emu_scratch_root();

// Removes namespaces (and the processes still in them) and scratch directories left by dmm-emu runs whose process
// is gone (named dmme<pid>-*); returns how many namespaces.
std::size_t sweep_stale_emu_namespaces();

}  // namespace dmm::emu
