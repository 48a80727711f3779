#include "run/provenance.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "run/build_info.hpp"

namespace dmm::sim {

HostFacts host_facts() {
  HostFacts h;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0) h.hostname = name;
  struct utsname u {};
  if (uname(&u) == 0) {
    h.kernel = std::string(u.sysname) + " " + u.release + " " + u.version;
    h.machine = u.machine;
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  h.cpus = cpus > 0 ? static_cast<unsigned>(cpus) : 0;
  return h;
}

Invocation this_invocation(std::string tool, std::string started_utc) {
  Invocation inv;
  inv.tool = std::move(tool);
  inv.started_utc = std::move(started_utc);
  // The process' own arguments, as the kernel has them: the same for a tool and for a Python interpreter.
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string arg;
  for (const char c : raw) {
    if (c == '\0') {
      inv.command_line.push_back(std::move(arg));
      arg.clear();
    } else {
      arg += c;
    }
  }
  if (!arg.empty()) inv.command_line.push_back(std::move(arg));
  std::error_code ec;
  const auto cwd = std::filesystem::current_path(ec);
  if (!ec) inv.working_directory = cwd.string();
  inv.host = host_facts();
  return inv;
}

std::string utc_timestamp(long long seconds_since_epoch) {
  const std::time_t t = static_cast<std::time_t>(seconds_since_epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string version_line(const std::string& tool) {
  const BuildInfo& b = build_info();
  std::string line = tool + " " + b.version + " (";
  if (!b.git_commit.empty()) line += "git " + b.git_commit.substr(0, 12) + (b.git_dirty ? ", modified" : "") + "; ";
  return line + "ns-3 " + b.ns3_version + ")";
}

}  // namespace dmm::sim
