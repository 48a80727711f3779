#include "nobody_variant.hpp"

#include <chrono>
#include <thread>

namespace dmm::bench {

Result<NobodyPlacement> start_nobody_placement(const BenchOptions& options, const std::string& name,
                                               const std::string& netns) {
  // The client (nobody) reads the config and connects to dmm-stackd's socket, both in the work directory.
  std::error_code ec;
  std::filesystem::permissions(options.work_dir,
                               std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                   std::filesystem::perms::others_exec,
                               ec);
  if (ec) return make_error(ec.value(), "cannot open " + options.work_dir.string() + " to nobody: " + ec.message());
  const std::filesystem::path socket = options.work_dir / (name + ".sock");
  auto config = write_config(options, name + ".yaml",
                             "stacks:\n  - {name: blue, kind: kernel, netns: " + netns +
                                 ", allow: {users: [nobody]}}\n"
                                 "policy:\n  - {match: {}, use: [blue]}\n"
                                 "service: {socket: " + socket.string() + "}\n");
  if (!config) return config.error();
  auto stackd = start_stack_service(options, *config, socket);
  if (!stackd) return stackd.error();
  return NobodyPlacement{*config, std::move(*stackd)};
}

std::vector<std::string> as_nobody() { return {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"}; }

}  // namespace dmm::bench
