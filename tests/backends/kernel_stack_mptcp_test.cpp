// A kernel instance with `protocol: mptcp`: its TCP sockets are IPPROTO_MPTCP while callers still ask for TCP, a
// session round-trips over it, and with a second veth path and MPTCP endpoints the session gains a subflow.
// These tests never skip: if MPTCP is off on this machine they fail and say so.
#include <gtest/gtest.h>
#include <linux/mptcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fstream>

#include "dmm/kernel/kernel_connection.hpp"
#include "dmm/kernel/kernel_stack.hpp"
#include "echo_peers.hpp"
#include "netns_lab.hpp"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif

namespace dmm::kernel {
namespace {

using namespace std::chrono_literals;
using test::EchoClient;
using test::EchoServer;
using test::NetnsLab;

constexpr Duration kDeadline = 20s;

// A machine with MPTCP switched off cannot run this multipath feature: fail loudly, never skip.
void require_mptcp_enabled() {
  std::ifstream in("/proc/sys/net/mptcp/enabled");
  int enabled = -1;
  in >> enabled;
  ASSERT_TRUE(in) << "cannot read /proc/sys/net/mptcp/enabled: this kernel has no MPTCP";
  ASSERT_EQ(enabled, 1) << "MPTCP is disabled (/proc/sys/net/mptcp/enabled = " << enabled
                        << "); enable it with `sysctl -w net.mptcp.enabled=1`";
}

int protocol_of(int fd) {
  int protocol = -1;
  socklen_t length = sizeof protocol;
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length), 0);
  return protocol;
}

Endpoint endpoint(const char* address, std::uint16_t port) { return Endpoint{*IpAddress::parse(address), port}; }

class Mptcp : public ::testing::Test {
protected:
  void SetUp() override {
    require_mptcp_enabled();
    if (HasFatalFailure()) return;
    auto a = lab_.add_namespace();
    auto b = lab_.add_namespace();
    ASSERT_TRUE(a.ok() && b.ok());
    a_ = *a;
    b_ = *b;
    auto ex = EpollExecutor::create();
    ASSERT_TRUE(ex.ok()) << ex.error().message;
    ex_ = std::move(*ex);
  }

  std::unique_ptr<KernelStack> stack(const std::string& name, const std::string& netns, KernelProtocol protocol) {
    auto s = KernelStack::create(KernelStackConfig{name, netns, protocol}, *ex_);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }

  NetnsLab lab_;
  std::string a_, b_;
  std::unique_ptr<EpollExecutor> ex_;
};

TEST_F(Mptcp, TcpSocketsOfAnMptcpInstanceAreIpprotoMptcp) {
  auto multi = stack("multi", a_, KernelProtocol::mptcp);
  auto plain = stack("plain", a_, KernelProtocol::tcp);
  ASSERT_TRUE(multi && plain);
  EXPECT_TRUE(multi->info().capabilities.multipath);
  EXPECT_FALSE(plain->info().capabilities.multipath);

  struct Case {
    int domain, type, protocol, expected;
  };
  for (const Case c : {Case{AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, IPPROTO_MPTCP},
                       Case{AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP, IPPROTO_MPTCP},
                       Case{AF_INET, SOCK_DGRAM, 0, IPPROTO_UDP},       // UDP is left alone
                       Case{AF_UNIX, SOCK_STREAM, 0, 0}}) {             // so is anything not IP
    auto fd = multi->create_socket(c.domain, c.type, c.protocol);
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    UniqueFd owned(*fd);
    EXPECT_EQ(protocol_of(owned.get()), c.expected) << "domain " << c.domain << " type " << c.type;
  }
  auto fd = plain->create_socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE(fd.ok());
  UniqueFd owned(*fd);
  EXPECT_EQ(protocol_of(owned.get()), IPPROTO_TCP);
}

TEST_F(Mptcp, ASessionOverTwoPathsRoundTripsAndGainsASubflow) {
  // Path 1 carries the initial subflow; the server announces its path-2 address (ADD_ADDR) and the client,
  // allowed a second subflow, opens one over path 2.
  auto p1 = lab_.link(a_, "10.231.1.1/24", b_, "10.231.1.2/24");
  ASSERT_TRUE(p1.ok()) << p1.error().message;
  auto p2 = lab_.link(a_, "10.231.2.1/24", b_, "10.231.2.2/24");
  ASSERT_TRUE(p2.ok()) << p2.error().message;
  for (const std::string& command :
       {"ip -n " + a_ + " mptcp limits set subflows 2 add_addr_accepted 2",
        "ip -n " + b_ + " mptcp limits set subflows 2 add_addr_accepted 2",
        "ip -n " + b_ + " mptcp endpoint add 10.231.2.2 dev " + p2->second + " signal"}) {
    const Status s = test::run_command(command);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  auto server_stack = stack("server", b_, KernelProtocol::mptcp);
  auto client_stack = stack("client", a_, KernelProtocol::mptcp);
  ASSERT_TRUE(server_stack && client_stack);

  EchoServer server;
  auto listener = server_stack->listen(endpoint("0.0.0.0", 5201), L4Proto::tcp, server);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  EchoClient client(test::make_payload(8u << 20));
  auto connection = client_stack->connect(endpoint("10.231.1.2", 5201), L4Proto::tcp, client);
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  client.attach(std::move(*connection));
  const int fd = dynamic_cast<KernelConnection&>(client.connection()).fd();
  EXPECT_EQ(protocol_of(fd), IPPROTO_MPTCP);

  const auto subflows = [&] {
    mptcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &length) != 0) return -1;
    return static_cast<int>(info.mptcpi_subflows);  // subflows beyond the initial one
  };
  ASSERT_TRUE(ex_->run_until([&] { return client.done(); }, kDeadline));
  ASSERT_FALSE(client.error) << client.error->message;
  EXPECT_TRUE(client.received == client.payload());
  EXPECT_TRUE(ex_->run_until([&] { return subflows() >= 1; }, kDeadline))
      << "no additional subflow (MPTCP_INFO subflows = " << subflows() << ")";
  const ByteCount sent = client.payload().size();
  ASSERT_TRUE(ex_->run_until([&] { return client.connection().metrics().bytes_acked == sent; }, kDeadline))
      << "bytes_acked " << client.connection().metrics().bytes_acked << " of " << sent;
  EXPECT_GT(client.connection().metrics().rtt, Duration::zero());
  ASSERT_EQ(server.sessions.size(), 1u);
  EXPECT_EQ(protocol_of(dynamic_cast<KernelConnection&>(server.sessions[0]->connection()).fd()), IPPROTO_MPTCP);
}

}  // namespace
}  // namespace dmm::kernel
