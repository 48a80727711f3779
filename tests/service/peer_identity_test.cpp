// SO_PEERCRED and SO_PEERGROUPS as dmm-stackd reads them: the ids and the supplementary groups a peer process held
// when it connected, also after it dropped root.
#include "dmm/service/peer_identity.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "dmm/kernel/unique_fd.hpp"
#include "service_harness.hpp"

namespace dmm::test {
namespace {

using kernel::UniqueFd;

TEST(PeerIdentity, ASocketPairNamesThisProcess) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd a(pair[0]), b(pair[1]);
  auto id = service::peer_identity(a.get());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->pid, ::getpid());
  EXPECT_EQ(id->uid, ::geteuid());
  EXPECT_EQ(id->gid, ::getegid());
  std::vector<gid_t> mine(static_cast<std::size_t>(::getgroups(0, nullptr)));
  ::getgroups(static_cast<int>(mine.size()), mine.data());
  std::vector<gid_t> got = id->groups;
  std::sort(mine.begin(), mine.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, mine);
}

TEST(PeerIdentity, AChildThatDroppedRootIsSeenWithItsOwnIdsAndGroups) {
  TempDir dir;
  const std::string path = dir.file("id.sock");
  UniqueFd listener(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
  ::chmod(path.c_str(), 0666);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  std::vector<gid_t> groups(100);
  for (std::size_t i = 0; i < groups.size(); ++i) groups[i] = static_cast<gid_t>(5000 + i);  // more than the first buffer
  const std::string said = run_as({1234, 4321, groups, ""}, [&]() -> std::string {
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    // What the kernel recorded at connect stays with the connection after the child is gone.
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) return std::strerror(errno);
    return "ok";
  });
  ASSERT_EQ(said, "ok");
  UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn);
  auto id = service::peer_identity(conn.get());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->uid, 1234u);
  EXPECT_EQ(id->gid, 4321u);
  EXPECT_EQ(id->groups.size(), 100u);
  EXPECT_TRUE(id->in_group(4321));
  EXPECT_TRUE(id->in_group(5000));
  EXPECT_TRUE(id->in_group(5099));
  EXPECT_FALSE(id->in_group(5100));
  EXPECT_EQ(id->describe().rfind("pid=", 0), 0u);
  EXPECT_NE(id->describe().find(" uid=1234 gid=4321 groups=5000,5001,"), std::string::npos) << id->describe();
  EXPECT_NE(id->describe().find(",..."), std::string::npos) << "a long group list is clipped in logs";
}

}  // namespace
}  // namespace dmm::test
