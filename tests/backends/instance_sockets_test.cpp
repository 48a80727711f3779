// InstanceSockets' congestion control: every TCP socket of an instance with `congestion:` gets it, made one by one
// or in batches, in the instance's namespace or at home; other sockets are left alone; a name the kernel does not
// have is an error naming it. (dmm-emu's programs reach the scenario's TCP variant this way: a namespace other than
// the machine's may not make most variants its default.)
#include "dmm/kernel/instance_sockets.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fstream>
#include <string>

#include "netns_lab.hpp"

namespace dmm::kernel {
namespace {

std::string congestion_of(int fd) {
  char name[16] = {};
  socklen_t len = sizeof name;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len) != 0) return "?";
  return std::string(name);
}

// A variant this kernel has that differs from the default of a fresh namespace, so that the test sees it set.
std::string other_than_default() {
  std::ifstream available("/proc/sys/net/ipv4/tcp_available_congestion_control");
  std::ifstream current("/proc/sys/net/ipv4/tcp_congestion_control");
  std::string fallback, name, default_name;
  current >> default_name;
  while (available >> name)
    if (name != default_name) return name;
  return "reno";
}

TEST(InstanceSockets, EveryTcpSocketGetsTheInstancesCongestionControl) {
  test::NetnsLab lab;
  auto ns = lab.add_namespace();
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  const std::string wanted = other_than_default();
  KernelStackConfig config;
  config.name = "blue";
  config.netns = *ns;
  config.congestion = wanted;
  auto sockets = InstanceSockets::open(config);
  ASSERT_TRUE(sockets.ok()) << sockets.error().message;

  auto one = sockets->socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(congestion_of(one->get()), wanted);
  auto batch = sockets->sockets(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP, 3);
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->size(), 3u);
  for (const auto& fd : *batch) EXPECT_EQ(congestion_of(fd.get()), wanted);
  auto udp = sockets->socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  EXPECT_TRUE(udp.ok()) << udp.error().message;  // not TCP: nothing to set, nothing refused

  KernelStackConfig home = config;
  home.netns.reset();
  auto at_home = InstanceSockets::open(home);
  ASSERT_TRUE(at_home.ok());
  auto own = at_home->socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_EQ(congestion_of(own->get()), wanted);
}

TEST(InstanceSockets, AnUnknownCongestionControlIsAnErrorNamingIt) {
  KernelStackConfig config;
  config.name = "blue";
  config.congestion = "nosuchvariant";
  auto sockets = InstanceSockets::open(config);
  ASSERT_TRUE(sockets.ok());
  auto made = sockets->socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().code, ENOENT);
  EXPECT_NE(made.error().message.find("TCP congestion control nosuchvariant"), std::string::npos)
      << made.error().message;
}

TEST(InstanceSockets, TheHostConfigsCongestionKeyReachesTheRegistrysParameters) {
  StackConfig config{"blue", "kernel", {{"congestion", "reno"}}};
  auto parsed = parse_kernel_stack_config(config);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->congestion, "reno");
}

}  // namespace
}  // namespace dmm::kernel
