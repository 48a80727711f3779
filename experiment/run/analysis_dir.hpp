#pragma once
// Where the tools (dmm-sim --plot, dmm-emu --plot) find analysis/plot_run.py, in this order:
//   1. $DMM_ANALYSIS_DIR, when set (a user's own copy of the scripts);
//   2. beside the executable: <dir of the tool>/../share/dmm/analysis — the build tree puts a copy there
//      (build/bin + build/share) and `cmake --install` does too (<prefix>/bin + <prefix>/share), so a moved build
//      tree or an installation needs nothing else;
//   3. the source tree the binary was built from (a build tree whose share/ copy was removed).
// The first that holds plot_run.py wins.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dmm::tools {

std::vector<std::filesystem::path> analysis_dir_candidates();
// The directory to use, or nullopt with `tried` listing where it looked.
std::optional<std::filesystem::path> find_analysis_dir(std::string& tried);

}  // namespace dmm::tools
