#pragma once
// The namespaces and veth pairs one dmm-bench run measures over, named `dmmb-<pid>-<role>` and removed when the
// lab goes away (and, if an earlier run was killed, at the next start). Nothing is ever created in the machine's
// own namespace: veth pairs are made inside one lab namespace with the peer moved straight into the other, and
// benchmark traffic only ever flows between lab namespaces.
#include <memory>
#include <string>
#include <vector>

#include "dmm/result.hpp"

namespace dmm::bench {

class BenchLab {
public:
  BenchLab();
  ~BenchLab();  // deletes every namespace it made (their veths go with them)
  BenchLab(const BenchLab&) = delete;
  BenchLab& operator=(const BenchLab&) = delete;

  // A new namespace with `lo` up; returns its name (for `ip netns`, /run/netns/NAME).
  Result<std::string> add_namespace(const std::string& role);
  // A veth pair: `a_dev` in namespace `a`, `b_dev` in `b`, both up. An address ("10.233.1.2/24") is added to an
  // end only if given: a user-space stack owns its end without one.
  Status link(const std::string& a, const std::string& a_dev, const std::string& a_address, const std::string& b,
              const std::string& b_dev, const std::string& b_address);
  // sysctl -w KEY=VALUE inside namespace `ns` (net.* keys are per namespace).
  Status sysctl(const std::string& ns, const std::string& key, const std::string& value);

  static std::string path_of(const std::string& ns) { return "/run/netns/" + ns; }

private:
  std::vector<std::string> made_;
};

// The lab of the suites that place a client's sessions on a kernel instance: `cli` (only loopback: where a shim
// client runs), `blue` (the client side of a veth, `client_address`/24) and `srv` (its other side,
// `server_address`/24). blue may open tens of thousands of connections: the whole port range, TIME_WAIT reused.
struct PlacementLab {
  std::string cli, blue, srv;
};
Result<PlacementLab> make_placement_lab(BenchLab& lab, const std::string& client_address,
                                        const std::string& server_address);

// Removes namespaces of earlier dmm-bench runs (dmmb-<pid>-*) whose process is gone.
void sweep_stale_lab_namespaces();

}  // namespace dmm::bench
