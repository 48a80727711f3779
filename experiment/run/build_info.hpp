#pragma once
// What this binary is: the project's version, the git commit it was built from and ns-3's version. Written into
// every results directory (provenance) and printed by the tools' --version. The values are fixed when the
// binary is built (cmake/write_build_info.cmake), never looked up at run time.
#include <string>

namespace dmm::sim {

struct BuildInfo {
  std::string version;      // the project's version, e.g. 0.1.0
  std::string git_commit;   // the full commit hash; empty when not built from a git checkout
  bool git_dirty = false;   // tracked files differed from that commit when it was built
  std::string ns3_version;  // the ns-3 the simulator was built against, e.g. 3.37
};

const BuildInfo& build_info();

// `dmm-sim 0.1.0 (git 1a2b3c4d5e6f, modified; ns-3 3.37)`: the --version line of the tool `tool`.
std::string version_line(const std::string& tool);

}  // namespace dmm::sim
