// NetnsSocketFactory: sockets land in the named namespace, the calling thread comes back to its own, and
// concurrent callers on several threads never see each other's switch.
#include "dmm/kernel/netns_socket_factory.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "netns_lab.hpp"

namespace dmm::kernel {
namespace {

using test::netns_inode;
using test::netns_path;
using test::NetnsLab;
using test::socket_netns_inode;

unsigned long own_netns_inode() {
  auto inode = netns_inode("/proc/thread-self/ns/net");
  EXPECT_TRUE(inode.ok()) << inode.error().message;
  return inode.ok() ? *inode : 0;
}

TEST(NetnsSocketFactory, SocketIsMadeInTheNamedNamespaceAndTheThreadReturnsHome) {
  NetnsLab lab;
  auto ns = lab.add_namespace();
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  auto factory = NetnsSocketFactory::open(*ns);
  ASSERT_TRUE(factory.ok()) << factory.error().message;
  EXPECT_FALSE(factory->is_home());
  EXPECT_EQ(factory->name(), *ns);

  const unsigned long home = own_netns_inode();
  auto fd = factory->socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  EXPECT_EQ(*socket_netns_inode(fd->get()), *netns_inode(netns_path(*ns)));
  EXPECT_EQ(own_netns_inode(), home);
}

TEST(NetnsSocketFactory, AMissingNamespaceIsENOENT) {
  auto factory = NetnsSocketFactory::open("dmmt-no-such-namespace-" + std::to_string(::getpid()));
  ASSERT_FALSE(factory.ok());
  EXPECT_EQ(factory.error().code, ENOENT);
  EXPECT_NE(factory.error().message.find("does not exist"), std::string::npos) << factory.error().message;
}

TEST(NetnsSocketFactory, NamesWithSlashesAreRefused) {
  EXPECT_EQ(NetnsSocketFactory::open("../../proc/1/ns/net").error().code, EINVAL);
  EXPECT_EQ(NetnsSocketFactory::open("").error().code, EINVAL);
}

TEST(NetnsSocketFactory, AFileThatIsNotANamespaceIsEINVAL) {
  char path[] = "/tmp/dmmt-not-a-netns-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto factory = NetnsSocketFactory::open_path(path, "plain file");
  std::remove(path);
  ASSERT_FALSE(factory.ok());
  EXPECT_EQ(factory.error().code, EINVAL);
}

TEST(NetnsSocketFactory, TheOwnNamespaceNeedsNoSwitch) {
  auto factory = NetnsSocketFactory::open_path("/proc/self/ns/net", "own");
  ASSERT_TRUE(factory.ok()) << factory.error().message;
  EXPECT_TRUE(factory->is_home());
  auto fd = factory->socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  EXPECT_EQ(*socket_netns_inode(fd->get()), own_netns_inode());
}

TEST(NetnsSocketFactory, KeepsItsNamespaceFilesAtHighFdNumbers) {
  NetnsLab lab;
  auto ns = lab.add_namespace();
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  auto factory = NetnsSocketFactory::open(*ns);
  ASSERT_TRUE(factory.ok()) << factory.error().message;
  // Programs take small numbers for granted (dup2 onto 3..9): the factory's files must not be there.
  EXPECT_GE(factory->netns_fd(), 900);
  EXPECT_GE(factory->home_fd(), 900);
  EXPECT_TRUE(::fcntl(factory->netns_fd(), F_GETFD) & FD_CLOEXEC);
  // ... and the small numbers it passed through on the way are free again.
  const int next = ::dup(0);
  EXPECT_LT(next, 100);
  ::close(next);
}

TEST(NetnsSocketFactory, ErrorsOfSocketAreReportedAndTheThreadStillReturns) {
  NetnsLab lab;
  auto ns = lab.add_namespace();
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  auto factory = NetnsSocketFactory::open(*ns);
  ASSERT_TRUE(factory.ok()) << factory.error().message;
  const unsigned long home = own_netns_inode();
  auto fd = factory->socket(AF_INET, SOCK_STREAM, IPPROTO_UDP);  // no stream socket speaks UDP
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, EPROTONOSUPPORT);
  EXPECT_EQ(own_netns_inode(), home);
}

// setns() moves only the calling thread: four threads making sockets in two namespaces at once must each get
// every socket in the namespace they asked for, and end in the namespace they started in.
TEST(NetnsSocketFactory, ConcurrentCallersOnFourThreadsEachGetTheirNamespace) {
  NetnsLab lab;
  auto a = lab.add_namespace();
  auto b = lab.add_namespace();
  ASSERT_TRUE(a.ok() && b.ok());
  auto fa = NetnsSocketFactory::open(*a);
  auto fb = NetnsSocketFactory::open(*b);
  ASSERT_TRUE(fa.ok() && fb.ok());
  const unsigned long ino_a = *netns_inode(netns_path(*a));
  const unsigned long ino_b = *netns_inode(netns_path(*b));
  const unsigned long home = own_netns_inode();
  ASSERT_NE(ino_a, ino_b);

  constexpr int kThreads = 4, kSocketsPerThread = 500;
  std::atomic<int> wrong{0}, failed{0}, strayed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSocketsPerThread; ++i) {
        // Threads interleave their choices so that both namespaces are being entered at the same moments.
        const bool use_a = (i + t) % 2 == 0;
        auto fd = (use_a ? *fa : *fb).socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (!fd) {
          ++failed;
          continue;
        }
        auto inode = socket_netns_inode(fd->get());
        if (!inode || *inode != (use_a ? ino_a : ino_b)) ++wrong;
      }
      auto own = netns_inode("/proc/thread-self/ns/net");
      if (!own || *own != home) ++strayed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(strayed.load(), 0);
  EXPECT_EQ(own_netns_inode(), home);
}

}  // namespace
}  // namespace dmm::kernel
