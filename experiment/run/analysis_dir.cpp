#include "run/analysis_dir.hpp"

#include <cstdlib>

namespace dmm::tools {

std::vector<std::filesystem::path> analysis_dir_candidates() {
  std::vector<std::filesystem::path> dirs;
  if (const char* dir = std::getenv("DMM_ANALYSIS_DIR"); dir && *dir) dirs.emplace_back(dir);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path() / DMM_ANALYSIS_FROM_BIN).lexically_normal());
  dirs.emplace_back(DMM_ANALYSIS_DIR);
  return dirs;
}

std::optional<std::filesystem::path> find_analysis_dir(std::string& tried) {
  tried.clear();
  for (const auto& dir : analysis_dir_candidates()) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(dir / "plot_run.py", ec)) return dir;
    tried += (tried.empty() ? "" : ", ") + dir.string();
  }
  return std::nullopt;
}

}  // namespace dmm::tools
