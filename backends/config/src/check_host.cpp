// check_host: what loading cannot know without the machine. Kept apart so that the loader stays pure (and
// testable anywhere), while dmm-run can still refuse a config naming a namespace that is not there before it
// starts the program (issue 4: "a config that names a namespace that does not exist -> clear error").
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dmm/host/host_config.hpp"

namespace dmm::host {
namespace {

Error error_at(const HostConfig& config, const Mark& mark, int code, const std::string& what) {
  return make_error(code, config.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " +
                              what);
}

// A file under /run/netns is a bind mount of a namespace; after a crash or an unmount it may be left as an empty
// file, which setns() would refuse much later. NS_GET_NSTYPE tells a namespace (of which kind) from a file.
Status check_netns(const HostConfig& config, const StackSpec& stack, const std::string& name) {
  const std::string path = "/run/netns/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT)
      return error_at(config, stack.mark, ENOENT,
                      "stack '" + stack.name + "': network namespace '" + name + "' does not exist (no " + path +
                          "; create it with `ip netns add " + name + "`)");
    return error_at(config, stack.mark, err,
                    "stack '" + stack.name + "': cannot open " + path + ": " + std::strerror(err));
  }
  const int type = ::ioctl(fd, NS_GET_NSTYPE);
  const int err = errno;
  ::close(fd);
  if (type == CLONE_NEWNET) return {};
  if (type < 0 && err != ENOTTY)
    return error_at(config, stack.mark, err,
                    "stack '" + stack.name + "': cannot inspect " + path + ": " + std::strerror(err));
  return error_at(config, stack.mark, EINVAL,
                  "stack '" + stack.name + "': " + path + " is not a network namespace" +
                      (type < 0 ? " (a stale file? `ip netns add " + name + "` makes one)" : std::string()));
}

}  // namespace

Status check_host(const HostConfig& config) {
  for (const StackSpec& stack : config.stacks) {
    const std::optional<std::string>& netns = stack.kernel ? stack.kernel->netns
                                              : stack.lwip_dpdk ? stack.lwip_dpdk->netns : std::nullopt;
    if (!netns) continue;
    if (Status s = check_netns(config, stack, *netns); !s) return s;
  }
  for (std::size_t i = 0; i < config.plugins.size(); ++i) {
    const std::string& path = config.plugins[i];
    const Mark mark = i < config.plugin_marks.size() ? config.plugin_marks[i] : Mark{1, 1};
    if (::access(path.c_str(), R_OK) != 0) {
      const int err = errno;
      return error_at(config, mark, err, "plug-in " + path + ": " + std::strerror(err));
    }
  }
  return {};
}

}  // namespace dmm::host
