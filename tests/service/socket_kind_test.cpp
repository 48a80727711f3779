// The socket kinds dmm-stackd makes (TCP, MPTCP, UDP over IPv4 and IPv6) and the ones it refuses by name.
#include "dmm/service/socket_kind.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace dmm::service {
namespace {

TEST(SocketKind, TcpMptcpAndUdpAreServed) {
  for (int domain : {AF_INET, AF_INET6}) {
    for (int flags : {0, int{SOCK_NONBLOCK}, int{SOCK_CLOEXEC}, SOCK_NONBLOCK | SOCK_CLOEXEC}) {
      EXPECT_TRUE(check_socket_kind(domain, SOCK_STREAM | flags, 0).ok());
      EXPECT_TRUE(check_socket_kind(domain, SOCK_STREAM | flags, IPPROTO_TCP).ok());
      EXPECT_TRUE(check_socket_kind(domain, SOCK_STREAM | flags, IPPROTO_MPTCP).ok());
      EXPECT_TRUE(check_socket_kind(domain, SOCK_DGRAM | flags, 0).ok());
      EXPECT_TRUE(check_socket_kind(domain, SOCK_DGRAM | flags, IPPROTO_UDP).ok());
    }
  }
}

void expect_refused(int domain, int type, int protocol, const std::string& says) {
  const Status s = check_socket_kind(domain, type, protocol);
  ASSERT_FALSE(s.ok()) << describe_socket_kind(domain, type, protocol);
  EXPECT_EQ(s.error().code, EINVAL);
  EXPECT_EQ(s.error().message.rfind("refused_kind: ", 0), 0u) << s.error().message;
  EXPECT_NE(s.error().message.find(says), std::string::npos) << s.error().message;
}

TEST(SocketKind, EverythingElseIsRefusedByName) {
  expect_refused(AF_INET, SOCK_RAW, IPPROTO_RAW, "AF_INET/SOCK_RAW/IPPROTO_RAW would need CAP_NET_RAW");
  expect_refused(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6, "SOCK_RAW");
  expect_refused(AF_INET, SOCK_PACKET, 0, "SOCK_PACKET");
  expect_refused(AF_PACKET, SOCK_RAW, 0, "AF_PACKET/SOCK_RAW/0 is not an Internet socket");
  expect_refused(AF_NETLINK, SOCK_DGRAM, 0, "AF_NETLINK");
  expect_refused(AF_UNIX, SOCK_STREAM, 0, "AF_UNIX");
  expect_refused(AF_INET, SOCK_SEQPACKET, 0, "SOCK_SEQPACKET/0 is not a stream or datagram socket");
  expect_refused(AF_INET, SOCK_STREAM, IPPROTO_UDP, "is not TCP or MPTCP");
  expect_refused(AF_INET, SOCK_STREAM, IPPROTO_SCTP, "IPPROTO_SCTP");
  expect_refused(AF_INET, SOCK_DGRAM, IPPROTO_ICMP, "AF_INET/SOCK_DGRAM/IPPROTO_ICMP is not UDP");  // ping sockets
  expect_refused(AF_INET, SOCK_DGRAM, IPPROTO_TCP, "is not UDP");
  expect_refused(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE, "IPPROTO_UDPLITE");
  expect_refused(AF_INET, SOCK_DGRAM, IPPROTO_MPTCP, "is not UDP");
  // Unknown flag bits make the type something else.
  expect_refused(AF_INET, SOCK_STREAM | 0x1000, 0, "not a stream or datagram socket");
  expect_refused(-1, SOCK_STREAM, 0, "domain -1");
}

TEST(SocketKind, DescriptionsNameTheParts) {
  EXPECT_EQ(describe_socket_kind(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP),
            "AF_INET6/SOCK_STREAM|SOCK_NONBLOCK/IPPROTO_MPTCP");
  EXPECT_EQ(describe_socket_kind(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "AF_INET/SOCK_DGRAM|SOCK_CLOEXEC/0");
  EXPECT_EQ(describe_socket_kind(99, 77, 55), "domain 99/type 77/protocol 55");
}

}  // namespace
}  // namespace dmm::service
