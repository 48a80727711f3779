#pragma once
// Test-only: network namespaces and veth pairs made for one test and always removed afterwards (RAII, also when
// the test fails). Names are `dmmt-<pid>-<n>`: ctest runs each test in its own process, so concurrent runs never
// collide. A test process that died without its destructors (an abort, a kill) leaves its namespaces behind: the
// next lab removes those whose process is gone. Test traffic stays inside these namespaces: the machine's own
// namespace routes off the machine.
#include <functional>
#include <string>
#include <vector>

#include "dmm/result.hpp"

namespace dmm::test {

// Runs `command` through the shell; its exit status 0 is success, otherwise the error carries its output.
Status run_command(const std::string& command);

class NetnsLab {
public:
  NetnsLab() = default;
  ~NetnsLab();  // deletes every namespace it made (their veths go with them)
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  // A new namespace with only `lo`, up.
  Result<std::string> add_namespace();
  // A veth pair between namespaces `a` and `b` (never in the machine's own), each end up with its address
  // (`10.231.1.1/24`; IPv6 addresses are added without duplicate address detection, so usable at once; an empty
  // address leaves that end without one, for a user-space stack to drive).
  // Returns the two interface names.
  Result<std::pair<std::string, std::string>> link(const std::string& a, const std::string& a_address,
                                                   const std::string& b, const std::string& b_address);

private:
  std::vector<std::string> namespaces_;
  int next_namespace_ = 0;
  int next_link_ = 0;
};

// Runs `fn` on a new thread that has entered namespace `name` (only that thread does), and waits for it.
// Fails if the namespace cannot be entered.
Status run_in_netns(const std::string& name, const std::function<void()>& fn);

// Inode of the network namespace a socket belongs to (ioctl SIOCGSKNS), and of a namespace file.
Result<unsigned long> socket_netns_inode(int fd);
Result<unsigned long> netns_inode(const std::string& path);
inline std::string netns_path(const std::string& name) { return "/run/netns/" + name; }

}  // namespace dmm::test
