#include "run/results_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace dmm::sim {

Result<bool> prepare_results_dir(const std::filesystem::path& dir) {
  if (dir.empty()) return make_error(EINVAL, "empty results directory path (give a directory, e.g. results/run1)");
  std::error_code ec;
  const bool existed = std::filesystem::exists(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(EINVAL, "cannot create results directory " + dir.string() + ": " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) return make_error(EINVAL, dir.string() + " is not a directory");
  // Writable is only known by writing: permissions, read-only mounts and /proc-like filesystems all say no here.
  const auto probe = dir / ".dmm-write-check";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(EINVAL, "cannot write in results directory " + dir.string() + ": " + std::strerror(errno));
  ::close(fd);
  std::filesystem::remove(probe, ec);
  return !existed;
}

void remove_if_unused(const std::filesystem::path& dir, bool created) {
  std::error_code ec;
  if (created && std::filesystem::is_empty(dir, ec) && !ec) std::filesystem::remove(dir, ec);
}

}  // namespace dmm::sim
