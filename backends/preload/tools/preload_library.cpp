#include "preload_library.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace dmm::preload {
namespace {

constexpr const char* kLibraryName = "libdmm_preload.so";

std::optional<std::filesystem::path> own_directory() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  return exe.parent_path();
}

}  // namespace

std::optional<std::string> find_preload_library() {
  if (const char* forced = std::getenv("DMM_PRELOAD_LIBRARY"); forced && *forced) {
    std::error_code ec;
    const auto path = std::filesystem::absolute(forced, ec);
    if (!ec && access(path.c_str(), R_OK) == 0) return path.string();
    return std::nullopt;
  }
  std::vector<std::filesystem::path> candidates;
  if (const auto dir = own_directory()) {
    candidates.push_back(*dir / ".." / "lib" / kLibraryName);
    candidates.push_back(*dir / kLibraryName);
  }
#ifdef DMM_INSTALL_LIBDIR
  candidates.push_back(std::filesystem::path(DMM_INSTALL_LIBDIR) / kLibraryName);
#endif
  for (const auto& candidate : candidates) {
    std::error_code ec;
    const auto canonical = std::filesystem::canonical(candidate, ec);
    if (!ec && access(canonical.c_str(), R_OK) == 0) return canonical.string();
  }
  return std::nullopt;
}

std::string prepend_preload(const std::string& library, const char* existing) {
  if (!existing || !*existing) return library;
  const std::string rest(existing);
  // Already first (dmm-run inside dmm-run): loading it twice would interpose twice.
  if (rest == library || rest.rfind(library + ":", 0) == 0 || rest.rfind(library + " ", 0) == 0) return rest;
  return library + ":" + rest;
}

}  // namespace dmm::preload
