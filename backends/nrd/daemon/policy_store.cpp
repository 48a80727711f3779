#include "dmm/nrd/policy_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "dmm/host/config_text.hpp"
#include "dmm/kernel/sys_error.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/policy_json.hpp"

namespace dmm::nrd {
namespace {

using kernel::last_sys_error;
using kernel::UniqueFd;

constexpr std::size_t kMaxStateBytes = 64u << 20;

Status write_all(int fd, const std::string& text, const std::string& path) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_sys_error("write " + path);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

Result<std::optional<Policy>> PolicyStore::load() const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return std::optional<Policy>{};
  auto text = host::read_config_file(path_, kMaxStateBytes, "an nrd state file");
  if (!text) return text.error();
  auto policy = parse_policy_json(*text);
  if (!policy) return make_error(EINVAL, path_ + ": not a saved policy: " + policy.error().message);
  return std::optional<Policy>(std::move(*policy));
}

Status PolicyStore::save(const Policy& policy) const {
  const std::filesystem::path target(path_);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  const std::string temporary = path_ + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return last_sys_error("open " + temporary);
    if (Status s = write_all(fd.get(), to_json_line(policy) + "\n", temporary); !s) {
      ::unlink(temporary.c_str());
      return s;
    }
    if (::fsync(fd.get()) != 0) {
      const Error e = last_sys_error("fsync " + temporary);
      ::unlink(temporary.c_str());
      return e;
    }
  }
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    const Error e = last_sys_error("rename " + temporary + " to " + path_);
    ::unlink(temporary.c_str());
    return e;
  }
  // The rename itself is durable only once the directory is.
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd || ::fsync(dir_fd.get()) != 0) return last_sys_error("fsync directory " + dir);
  return {};
}

}  // namespace dmm::nrd
