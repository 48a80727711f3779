#include "sockaddr_view.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/un.h>
#include <unistd.h>

namespace dmm::preload {
namespace {

sockaddr_in v4(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

sockaddr_in6 v6(const char* ip, std::uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

TEST(SockaddrView, Ipv4AndIpv6EndpointsAsThePolicySeesThem) {
  const sockaddr_in a = v4("10.232.1.1", 80);
  const auto e = endpoint_of(reinterpret_cast<const sockaddr*>(&a), sizeof a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->to_string(), "10.232.1.1:80");
  const sockaddr_in6 b = v6("fd00:232:1::1", 443);
  const auto f = endpoint_of(reinterpret_cast<const sockaddr*>(&b), sizeof b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->to_string(), "[fd00:232:1::1]:443");
}

TEST(SockaddrView, Ipv4MappedIpv6MatchesAsIpv4) {
  const sockaddr_in6 a = v6("::ffff:10.232.2.1", 7000);
  const auto e = endpoint_of(reinterpret_cast<const sockaddr*>(&a), sizeof a);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address.family, IpFamily::v4);
  EXPECT_EQ(e->to_string(), "10.232.2.1:7000");
}

TEST(SockaddrView, OtherFamiliesShortLengthsAndNullAreNotEndpoints) {
  const sockaddr_in a = v4("10.0.0.1", 1);
  EXPECT_FALSE(endpoint_of(reinterpret_cast<const sockaddr*>(&a), sizeof a - 1));
  EXPECT_FALSE(endpoint_of(nullptr, 0));
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;  // UDP "disconnect"
  EXPECT_FALSE(endpoint_of(&unspec, sizeof unspec));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(endpoint_of(reinterpret_cast<const sockaddr*>(&un), sizeof un));
}

TEST(SockaddrView, OnlyABoundSocketHasAnAddressToReplay) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(bound_address_of(fd).bound());
  const sockaddr_in any = v4("127.0.0.1", 0);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any), 0);
  const BoundAddress b = bound_address_of(fd);
  ASSERT_TRUE(b.bound());
  const auto e = endpoint_of(reinterpret_cast<const sockaddr*>(&b.storage), b.length);
  ASSERT_TRUE(e);
  EXPECT_NE(e->port, 0);  // the port the kernel picked is what a re-created socket takes over
  close(fd);
}

}  // namespace
}  // namespace dmm::preload
