#pragma once
// The namespaces and veth pairs one preload test runs in, named uniquely (dmmp-<pid>-<n>) and removed by the
// destructor, also when the test fails (an earlier run that crashed is swept at the next start):
//
//   cli  : only lo. Every test client runs here (ip netns exec), so a wrong decision fails locally with
//          ENETUNREACH instead of leaving the machine by its default route.
//   blue : veth 10.232.1.2/24, fd00:232:1::2/64  <->  srv 10.232.1.1/24, fd00:232:1::1/64
//   red  : veth 10.232.2.2/24                    <->  srv 10.232.2.1/24
//   dead : only lo (an instance with no path anywhere, for fall-back)
//   srv  : the servers. blue and red each also route to the other's server subnet through srv, so srv's
//          addresses are reachable over either instance, and a server tells them apart by the peer address.
#include <string>
#include <vector>

namespace dmm::test {

inline constexpr const char* kBlueServer = "10.232.1.1";
inline constexpr const char* kBlueServer6 = "fd00:232:1::1";
inline constexpr const char* kBlueClient = "10.232.1.2";
inline constexpr const char* kRedServer = "10.232.2.1";
inline constexpr const char* kRedClient = "10.232.2.2";
// User-space paths (add_user_path): veth u<n> in cli, driven by DPDK, without a kernel address; srv at
// 10.232.<3+n>.1, the lwIP instance at 10.232.<3+n>.2.
inline constexpr const char* kUserServer0 = "10.232.3.1";
inline constexpr const char* kUserClient0 = "10.232.3.2";
inline constexpr const char* kUserServer1 = "10.232.4.1";
inline constexpr const char* kUserClient1 = "10.232.4.2";

class Topology {
public:
  Topology();  // throws std::runtime_error (with the failing command) if the kernel refuses
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  const std::string& cli() const { return cli_; }
  const std::string& blue() const { return blue_; }
  const std::string& red() const { return red_; }
  const std::string& dead() const { return dead_; }
  const std::string& srv() const { return srv_; }

  // A veth u<n> in cli (no address: a user-space stack drives it) to srv, which gets 10.232.<3+n>.1/24 and fills
  // in its own checksums (a veth would leave them to offload, and af_packet readers would see them unfilled).
  void add_user_path(int n);

  // argv that runs `command` inside the client namespace.
  std::vector<std::string> in_cli(const std::vector<std::string>& command) const;
  std::vector<std::string> in(const std::string& ns, const std::vector<std::string>& command) const;

private:
  std::string add_namespace(const std::string& role);
  std::vector<std::string> made_;
  std::string cli_, blue_, red_, dead_, srv_;
};

// One namespace with only loopback up, removed by the destructor.
class LoopbackNamespace {
public:
  explicit LoopbackNamespace(const std::string& role);
  ~LoopbackNamespace();
  LoopbackNamespace(const LoopbackNamespace&) = delete;
  LoopbackNamespace& operator=(const LoopbackNamespace&) = delete;
  const std::string& name() const { return name_; }

private:
  std::string name_;
};

// Removes namespaces of earlier test processes (dmmp-<pid>-*) whose process is gone.
void sweep_stale_namespaces();

}  // namespace dmm::test
