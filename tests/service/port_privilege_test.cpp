// A privileged port on a user-space instance needs root or CAP_NET_BIND_SERVICE, as bind(2) on a kernel socket
// (backends/service/daemon/port_privilege.hpp): the daemon binds for its peers there, so it checks for them.
#include "port_privilege.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace dmm::service {
namespace {

TEST(PortPrivilege, BelowTheLimitOnlyRootOrTheCapabilityMayBind) {
  EXPECT_TRUE(admit_port(0, false, 53, 1024).ok());
  EXPECT_TRUE(admit_port(65534, true, 53, 1024).ok());
  EXPECT_TRUE(admit_port(65534, false, 1024, 1024).ok());
  EXPECT_TRUE(admit_port(65534, false, 0, 1024).ok());  // port 0: the instance picks an unprivileged one
  EXPECT_TRUE(admit_port(65534, false, 80, 80).ok());   // a host that lowered the limit
  const Status refused = admit_port(65534, false, 53, 1024);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, EACCES);
  EXPECT_EQ(refused.error().message,
            "not_allowed: port 53 is privileged (below ip_unprivileged_port_start 1024) and uid 65534 has not got "
            "CAP_NET_BIND_SERVICE");
}

TEST(PortPrivilege, APeerIsJudgedByItsCapabilitiesNow) {
  PeerIdentity self{::getpid(), 0, 0, {}};
  EXPECT_TRUE(admit_port(self, 53).ok());  // this test runs as root
  PeerIdentity gone{999999999, 65534, 65534, {}};  // no such process: no capability
  EXPECT_EQ(admit_port(gone, 53).error().code, EACCES);
  EXPECT_TRUE(admit_port(gone, 40000).ok());
}

}  // namespace
}  // namespace dmm::service
