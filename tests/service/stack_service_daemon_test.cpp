// dmm-stackd in-process (StackServiceDaemon on its own loop thread) against real clients, forked children that
// dropped root, and raw peers, in test-made namespaces:
//   cli  : only lo; children run here, so a socket made in the wrong namespace fails locally (ENETUNREACH)
//   blue : veth 10.231.77.2/24 <-> srv 10.231.77.1/24, where an echo server listens
// Stacks of the config: blue (allow users [nobody], groups [4242]), red (the same namespace, no allow: root only),
// multi (blue's namespace, protocol mptcp), host (no netns: not served), user0 (lwip-dpdk: not served).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <tuple>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/service/stack_service_client.hpp"
#include "netns_lab.hpp"
#include "service_harness.hpp"

namespace dmm::test {
namespace {

using namespace std::chrono_literals;
using service::StackServiceClient;

constexpr const char* kServer = "10.231.77.1";
constexpr uid_t kNobody = 65534;

class StackServiceDaemonTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto cli = lab_.add_namespace();
    auto blue = lab_.add_namespace();
    auto srv = lab_.add_namespace();
    ASSERT_TRUE(cli && blue && srv);
    cli_ = *cli;
    blue_ = *blue;
    ASSERT_TRUE(lab_.link(blue_, "10.231.77.2/24", *srv, "10.231.77.1/24").ok());
    auto echo = EchoServer::start(*srv, kServer);
    ASSERT_TRUE(echo.ok()) << echo.error().message;
    echo_ = std::move(*echo);
  }

  std::string write_config(const std::string& service_extra = "") {
    return dir_.write("dmm.yaml",
                      "stacks:\n"
                      "  - {name: host, kind: kernel}\n"
                      "  - {name: blue, kind: kernel, netns: " + blue_ + ", allow: {users: [nobody], groups: [4242]}}\n"
                      "  - {name: red, kind: kernel, netns: " + blue_ + "}\n"
                      "  - {name: multi, kind: kernel, netns: " + blue_ + ", protocol: mptcp, allow: {users: [nobody]}}\n"
                      "  - {name: user0, kind: lwip-dpdk, vdev: net_null0, address: 10.77.0.2/24}\n"
                      "policy:\n"
                      "  - {match: {}, use: [host]}\n"
                      "service: {socket: stackd.sock" + service_extra + "}\n");
  }

  void start(service::StackServiceOptions options = {}, const std::string& service_extra = "") {
    auto daemon = DaemonThread::start(write_config(service_extra), options);
    ASSERT_TRUE(daemon.ok()) << daemon.error().message;
    daemon_ = std::move(*daemon);
  }

  StackServiceClient client() {
    auto c = StackServiceClient::connect(daemon_->socket_path(), 5s);
    EXPECT_TRUE(c.ok()) << c.error().message;
    if (!c.ok()) std::abort();
    return std::move(*c);
  }

  // A request that must be granted: the service still serves.
  void expect_served(StackServiceClient& c) {
    auto fds = c.sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
    ASSERT_TRUE(fds.ok()) << fds.error().message;
    EXPECT_EQ(fds->size(), 1u);
  }

  unsigned long blue_inode() {
    auto inode = netns_inode(netns_path(blue_));
    EXPECT_TRUE(inode.ok());
    return inode.ok() ? *inode : 0;
  }

  NetnsLab lab_;
  std::string cli_, blue_;
  TempDir dir_;
  std::unique_ptr<EchoServer> echo_;
  std::unique_ptr<DaemonThread> daemon_;
};

TEST_F(StackServiceDaemonTest, RootGetsSocketsMadeInsideTheNamespace) {
  start();
  StackServiceClient c = client();
  EXPECT_GE(c.fd(), kernel::high_fd_floor());
  EXPECT_NE(::fcntl(c.fd(), F_GETFD) & FD_CLOEXEC, 0);

  auto fds = c.sockets("blue", AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP, 3);
  ASSERT_TRUE(fds.ok()) << fds.error().message;
  ASSERT_EQ(fds->size(), 3u);
  std::set<int> numbers;
  for (const kernel::UniqueFd& fd : *fds) {
    numbers.insert(fd.get());
    auto inode = socket_netns_inode(fd.get());
    ASSERT_TRUE(inode.ok());
    EXPECT_EQ(*inode, blue_inode()) << "a socket outside the stack's namespace";
    EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0) << "not close-on-exec";
    EXPECT_NE(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK, 0) << "SOCK_NONBLOCK was asked";
  }
  EXPECT_EQ(numbers.size(), 3u);

  auto blocking = c.sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_TRUE(blocking.ok()) << blocking.error().message;
  EXPECT_EQ(::fcntl((*blocking)[0].get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl((*blocking)[0].get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(echo_through((*blocking)[0].get(), kServer, echo_->port(), "through blue"), "ok");

  // Root may use a stack without `allow:`.
  auto red = c.sockets("red", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_TRUE(red.ok()) << red.error().message;

  auto max = c.sockets("blue", AF_INET, SOCK_DGRAM, 0, service::kMaxSocketsPerRequest);
  ASSERT_TRUE(max.ok()) << max.error().message;
  EXPECT_EQ(max->size(), static_cast<std::size_t>(service::kMaxSocketsPerRequest));
  const service::ServiceCounters counters = daemon_->counters();
  EXPECT_EQ(counters.requests_granted, 4u);
  EXPECT_EQ(counters.sockets_made, 3u + 1 + 1 + 64);
}

TEST_F(StackServiceDaemonTest, UdpIpv6AndMptcpSubstitution) {
  start();
  StackServiceClient c = client();
  const auto protocol_of = [](int fd) {
    int p = -1;
    socklen_t len = sizeof p;
    ::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &p, &len);
    return p;
  };
  auto udp = c.sockets("blue", AF_INET, SOCK_DGRAM, IPPROTO_UDP, 1);
  ASSERT_TRUE(udp.ok()) << udp.error().message;
  EXPECT_EQ(protocol_of((*udp)[0].get()), IPPROTO_UDP);
  auto v6 = c.sockets("blue", AF_INET6, SOCK_STREAM, 0, 1);
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(protocol_of((*v6)[0].get()), IPPROTO_TCP);
  // A stack with `protocol: mptcp` opens TCP as MPTCP, as the shim would itself (InstanceSockets).
  auto multi = c.sockets("multi", AF_INET, SOCK_STREAM, 0, 2);
  ASSERT_TRUE(multi.ok()) << multi.error().message;
  for (const auto& fd : *multi) EXPECT_EQ(protocol_of(fd.get()), IPPROTO_MPTCP);
  auto multi_udp = c.sockets("multi", AF_INET, SOCK_DGRAM, 0, 1);
  ASSERT_TRUE(multi_udp.ok());
  EXPECT_EQ(protocol_of((*multi_udp)[0].get()), IPPROTO_UDP);
}

TEST_F(StackServiceDaemonTest, RefusedRequestsKeepTheConnection) {
  start();
  StackServiceClient c = client();
  auto unknown = c.sockets("nope", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ENOENT);
  EXPECT_NE(unknown.error().message.find("unknown_stack: no stack named 'nope'"), std::string::npos)
      << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("stacks: host, blue, red, multi, user0"), std::string::npos);

  auto host = c.sockets("host", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(host.ok());
  EXPECT_EQ(host.error().code, EOPNOTSUPP);
  EXPECT_NE(host.error().message.find("not_served"), std::string::npos) << host.error().message;
  EXPECT_NE(host.error().message.find("no `netns:`"), std::string::npos) << host.error().message;
  auto user = c.sockets("user0", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().code, EOPNOTSUPP);
  EXPECT_NE(user.error().message.find("kind 'lwip-dpdk'"), std::string::npos) << user.error().message;

  // The client refuses a raw socket before asking...
  auto raw = c.sockets("blue", AF_INET, SOCK_RAW, IPPROTO_RAW, 1);
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.error().code, EINVAL);
  EXPECT_NE(raw.error().message.find("refused_kind"), std::string::npos) << raw.error().message;
  EXPECT_TRUE(c.sockets("blue", AF_INET, SOCK_STREAM, 0, 0).error().code == EINVAL);
  EXPECT_TRUE(c.sockets("blue", AF_INET, SOCK_STREAM, 0, 65).error().code == EINVAL);
  EXPECT_TRUE(c.sockets("", AF_INET, SOCK_STREAM, 0, 1).error().code == EINVAL);
  // ...and the daemon refuses one asked for anyway, even by root, and serves the connection on.
  auto peer = RawPeer::connect(daemon_->socket_path());
  ASSERT_TRUE(peer.ok());
  ASSERT_TRUE(peer->hello().ok());
  for (const auto& [domain, type, protocol] : std::vector<std::tuple<int, int, int>>{
           {AF_INET, SOCK_RAW, IPPROTO_RAW}, {AF_PACKET, SOCK_RAW, 0x0300}, {AF_NETLINK, SOCK_DGRAM, 0},
           {AF_INET, SOCK_DGRAM, IPPROTO_ICMP}}) {
    service::SocketsRequest r;
    r.id = 41;
    r.stack = "blue";
    r.domain = domain;
    r.type = type;
    r.protocol = protocol;
    ASSERT_TRUE(peer->send(service::encode(service::Message{r})).ok());
    auto answer = peer->receive();
    ASSERT_TRUE(answer);
    EXPECT_TRUE(answer->fds.empty());
    auto m = service::decode(answer->bytes);
    ASSERT_TRUE(m.ok());
    const auto* reply = std::get_if<service::SocketsReply>(&*m);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->id, 41u);
    EXPECT_EQ(reply->error, EINVAL);
    EXPECT_EQ(reply->reason, "refused_kind");
  }
  ASSERT_TRUE(peer->send(tcp_request("blue", 42)).ok());
  auto granted = peer->receive();
  ASSERT_TRUE(granted);
  EXPECT_EQ(granted->fds.size(), 1u);

  expect_served(c);
  const service::ServiceCounters counters = daemon_->counters();
  EXPECT_EQ(counters.requests_refused.at("unknown_stack"), 1u);
  EXPECT_EQ(counters.requests_refused.at("not_served"), 2u);
  EXPECT_EQ(counters.requests_refused.at("refused_kind"), 4u);
  EXPECT_TRUE(counters.messages_rejected.empty());
}

// The point of the service: a process that dropped root cannot setns (EPERM), and still gets a socket in the
// stack's namespace, owned by it, which reaches the server there.
TEST_F(StackServiceDaemonTest, DroppedRootPeerGetsItsOwnSocketInTheNamespace) {
  start();
  const std::string socket_path = daemon_->socket_path();
  const std::string blue = blue_;
  const std::uint16_t port = echo_->port();
  const std::string said = run_as({kNobody, kNobody, {}, cli_}, [&]() -> std::string {
    std::string out;
    kernel::UniqueFd ns(::open(netns_path(blue).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return std::string("open netns: ") + std::strerror(errno);
    out += ::setns(ns.get(), CLONE_NEWNET) == 0 ? "setns=ok" : std::string("setns=") + strerrorname_np(errno);
    auto c = StackServiceClient::connect(socket_path, 5s);
    if (!c) return out + " connect: " + c.error().message;
    auto fds = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
    if (!fds) return out + " sockets: " + fds.error().message;
    struct stat st {};
    ::fstat((*fds)[0].get(), &st);
    out += " uid=" + std::to_string(st.st_uid) + " gid=" + std::to_string(st.st_gid);
    out += " echo=" + echo_through((*fds)[0].get(), kServer, port, "from nobody");
    return out;
  });
  EXPECT_EQ(said, "setns=EPERM uid=65534 gid=65534 echo=ok");
  EXPECT_NE(daemon_->log_text().find("uid=65534"), std::string::npos);
}

// The socket's sk_uid is the peer's too (the kernel takes it from the inode the fsuid stamped): a uid-based routing
// rule in the stack's namespace sees the peer, not the daemon. And the daemon is itself again afterwards.
TEST_F(StackServiceDaemonTest, UidRoutingInTheNamespaceSeesThePeer) {
  ASSERT_TRUE(run_command("ip -n " + blue_ + " rule add uidrange 65534-65534 unreachable").ok());
  start();
  const std::string socket_path = daemon_->socket_path();
  const std::uint16_t port = echo_->port();
  const std::string said = run_as({kNobody, kNobody, {}, cli_}, [&]() -> std::string {
    auto c = StackServiceClient::connect(socket_path, 5s);
    if (!c) return "connect: " + c.error().message;
    auto fds = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
    if (!fds) return "sockets: " + fds.error().message;
    return echo_through((*fds)[0].get(), kServer, port, "x");
  });
  EXPECT_EQ(said, "connect: Network is unreachable");
  StackServiceClient root = client();
  auto mine = root.sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
  ASSERT_TRUE(mine.ok()) << mine.error().message;
  struct stat st {};
  ::fstat((*mine)[0].get(), &st);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(echo_through((*mine)[0].get(), kServer, port, "root's"), "ok");
}

TEST_F(StackServiceDaemonTest, AUidNotAllowedGetsEaccesNamingTheConfigKey) {
  start();
  const std::string socket_path = daemon_->socket_path();
  const std::string said = run_as({1000, 1000, {}, cli_}, [&]() -> std::string {
    auto c = StackServiceClient::connect(socket_path, 5s);
    if (!c) return "connect: " + c.error().message;
    std::string out;
    for (const char* stack : {"blue", "red"}) {
      auto fds = c->sockets(stack, AF_INET, SOCK_STREAM, 0, 1);
      out += fds ? std::string("granted\n") : std::string(strerrorname_np(fds.error().code)) + " " + fds.error().message + "\n";
    }
    return out;
  });
  const std::string config = dir_.file("dmm.yaml");
  EXPECT_NE(said.find("EACCES dmm-stackd: not_allowed: uid 1000 (gid 1000) may not use stack 'blue': its uid is not "
                      "in stacks.blue.allow.users and none of its groups is in stacks.blue.allow.groups (" +
                      config + ":3:"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("EACCES dmm-stackd: not_allowed: uid 1000 (gid 1000) may not use stack 'red': the stack has no "
                      "`allow:` (" + config + ":4:5), so only root may"),
            std::string::npos)
      << said;
  EXPECT_EQ(daemon_->counters().requests_refused.at("not_allowed"), 2u);
}

TEST_F(StackServiceDaemonTest, GroupsAdmitByPrimaryOrSupplementaryGroup) {
  start();
  const std::string socket_path = daemon_->socket_path();
  const auto ask = [&](const AsUser& who) {
    return run_as(who, [&]() -> std::string {
      auto c = StackServiceClient::connect(socket_path, 5s);
      if (!c) return "connect: " + c.error().message;
      auto fds = c->sockets("blue", AF_INET, SOCK_DGRAM, 0, 1);
      if (!fds) return strerrorname_np(fds.error().code);
      struct stat st {};
      ::fstat((*fds)[0].get(), &st);
      return "granted gid=" + std::to_string(st.st_gid);
    });
  };
  EXPECT_EQ(ask({1000, 1000, {4242}, cli_}), "granted gid=1000");  // supplementary
  EXPECT_EQ(ask({1000, 4242, {}, cli_}), "granted gid=4242");      // primary
  EXPECT_EQ(ask({1000, 1000, {4243}, cli_}), "EACCES");
  // The groups the process holds count, not the account's: uid 1000 without the group is refused.
  EXPECT_EQ(ask({1000, 1000, {}, cli_}), "EACCES");
}

TEST_F(StackServiceDaemonTest, HostilePeersAreAnsweredAndDroppedWhileOthersAreServed) {
  service::StackServiceOptions options;
  options.hello_timeout = 300ms;
  start(options);
  StackServiceClient good = client();
  const int fds_before = open_fd_count();

  struct Case {
    std::string name;
    std::function<void(RawPeer&)> act;
    std::string reason;
    int code;
  };
  const std::string request = tcp_request("blue", 1);
  const std::vector<Case> cases{
      {"garbage", [](RawPeer& p) { ASSERT_TRUE(p.send("GET / HTTP/1.1\r\n\r\n").ok()); }, "bad_magic", EPROTO},
      {"oversized", [](RawPeer& p) { ASSERT_TRUE(p.send(std::string(64 * 1024, 'D')).ok()); }, "oversized", EMSGSIZE},
      {"half a header, then silence", [](RawPeer& p) { ASSERT_TRUE(p.send("DS\x01\x03\x00").ok()); }, "truncated",
       ENODATA},
      {"half a request after hello, then silence",
       [&](RawPeer& p) {
         ASSERT_TRUE(p.hello().ok());
         ASSERT_TRUE(p.send(request.substr(0, request.size() - 7)).ok());
       },
       "truncated", ENODATA},
      {"request before hello", [&](RawPeer& p) { ASSERT_TRUE(p.send(request).ok()); }, "unexpected", EPROTO},
      {"second hello",
       [](RawPeer& p) {
         ASSERT_TRUE(p.hello().ok());
         ASSERT_TRUE(p.send(service::encode(service::Message{service::Hello{}})).ok());
       },
       "unexpected", EPROTO},
      {"descriptors sent to the daemon",
       [](RawPeer& p) {
         const int mine[] = {0, 1};
         ASSERT_TRUE(p.send(service::encode(service::Message{service::Hello{}}), mine).ok());
       },
       "unexpected_fds", EINVAL},
      {"a version the daemon does not speak",
       [](RawPeer& p) { ASSERT_TRUE(p.send(service::encode(service::Message{service::Hello{3, 4, "future"}})).ok()); },
       "wrong_version", EPROTONOSUPPORT},
      {"count out of range",
       [](RawPeer& p) {
         ASSERT_TRUE(p.hello().ok());
         std::string r = tcp_request("blue", 3);
         r.back() = static_cast<char>(200);
         ASSERT_TRUE(p.send(r).ok());
       },
       "bad_field", EINVAL},
      {"an unknown message type",
       [](RawPeer& p) {
         ASSERT_TRUE(p.hello().ok());
         ASSERT_TRUE(p.send(std::string("DS\x01\x09\0\0\0\0", 8)).ok());
       },
       "unknown_type", EBADMSG},
      {"a reply sent to the daemon",
       [](RawPeer& p) {
         ASSERT_TRUE(p.hello().ok());
         ASSERT_TRUE(p.send(service::encode(service::Message{service::SocketsReply{1, EIO, 0, "x", ""}})).ok());
       },
       "unexpected", EPROTO},
      {"no hello at all", [](RawPeer&) {}, "no_hello", ETIMEDOUT},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto peer = RawPeer::connect(daemon_->socket_path());
    ASSERT_TRUE(peer.ok());
    c.act(*peer);
    auto last = peer->receive(2s);
    ASSERT_TRUE(last) << "no error message";
    auto error = error_message_of(*last);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->reason, c.reason) << error->message;
    EXPECT_EQ(error->error, c.code);
    EXPECT_TRUE(peer->closed_by_daemon());
    expect_served(good);
  }
  const service::ServiceCounters counters = daemon_->counters();
  EXPECT_EQ(counters.messages_rejected.at("bad_magic"), 1u);
  EXPECT_EQ(counters.messages_rejected.at("oversized"), 1u);
  EXPECT_EQ(counters.messages_rejected.at("truncated"), 2u);
  EXPECT_EQ(counters.messages_rejected.at("unexpected"), 3u);
  EXPECT_EQ(counters.messages_rejected.at("unexpected_fds"), 1u);
  EXPECT_EQ(counters.messages_rejected.at("wrong_version"), 1u);
  EXPECT_EQ(counters.messages_rejected.at("bad_field"), 1u);
  EXPECT_EQ(counters.messages_rejected.at("unknown_type"), 1u);
  EXPECT_EQ(counters.peers_dropped.at("no_hello"), 1u);
  EXPECT_EQ(counters.peers_dropped.at("protocol_error"), 11u);
  EXPECT_EQ(daemon_->peers(), 1u);
  EXPECT_EQ(open_fd_count(), fds_before) << "descriptors left behind by dropped peers";
  EXPECT_NE(daemon_->log_text().find("event=message_rejected"), std::string::npos);
}

// A peer's program name and stack names reach the log only as printable text: no line breaks, quotes or `=`.
TEST_F(StackServiceDaemonTest, PeerTextCannotForgeLogLines) {
  start();
  auto peer = RawPeer::connect(daemon_->socket_path());
  ASSERT_TRUE(peer.ok());
  ASSERT_TRUE(peer->send(service::encode(service::Message{service::Hello{1, 1, "x\nerror event=forged a=\"b"}})).ok());
  ASSERT_TRUE(peer->receive());
  ASSERT_TRUE(peer->send(tcp_request("s\ninfo event=forged\" x=y", 5)).ok());
  auto reply = peer->receive();
  ASSERT_TRUE(reply);
  const std::string log = daemon_->log_text();
  EXPECT_EQ(log.find("\nerror event=forged"), std::string::npos) << log;
  EXPECT_EQ(log.find("\ninfo event=forged"), std::string::npos) << log;
  EXPECT_NE(log.find("client=x?error?event?forged?a??b"), std::string::npos) << log;
  EXPECT_NE(log.find("stack=s?info?event?forged??x?y"), std::string::npos) << log;
}

// Descriptors that do not fit under the peer's fd limit are dropped by the kernel on the way in: the client says
// EMFILE and closes the ones that did arrive.
TEST_F(StackServiceDaemonTest, AReplyAboveThePeersFdLimitIsEmfileAndLeavesNothing) {
  start();
  const std::string socket_path = daemon_->socket_path();
  const std::string said = run_as({0, 0, {}, cli_}, [&]() -> std::string {
    auto c = StackServiceClient::connect(socket_path, 5s);
    if (!c) return "connect: " + c.error().message;
    // Room for exactly two more descriptors: the limit just above the connection, every free number below filled.
    const rlimit low{static_cast<rlim_t>(c->fd() + 1), static_cast<rlim_t>(c->fd() + 1)};
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return "setrlimit";
    std::vector<kernel::UniqueFd> fillers;
    for (;;) {
      kernel::UniqueFd f(::dup(0));
      if (!f) break;
      fillers.push_back(std::move(f));
    }
    if (fillers.size() < 2) return "no fillers";
    fillers.pop_back();
    fillers.pop_back();
    // Counted without opening anything (there is no room): each number below the limit, open or not.
    const auto count_open = [&] {
      int n = 0;
      for (int fd = 0; fd <= c->fd(); ++fd) n += ::fcntl(fd, F_GETFD) >= 0 ? 1 : 0;
      return n;
    };
    const int before = count_open();
    auto fds = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 8);
    if (fds) return "granted " + std::to_string(fds->size());
    return std::string(strerrorname_np(fds.error().code)) + (count_open() == before ? " clean" : " leaked");
  });
  EXPECT_EQ(said, "EMFILE clean");
}

TEST_F(StackServiceDaemonTest, AnIdlePeerAfterHelloStays) {
  service::StackServiceOptions options;
  options.hello_timeout = 100ms;
  start(options);
  StackServiceClient c = client();
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(daemon_->peers(), 1u);
  expect_served(c);
}

TEST_F(StackServiceDaemonTest, APeerThatDoesNotReadItsRepliesIsDropped) {
  start();
  StackServiceClient good = client();
  const int fds_before = open_fd_count();
  {
    auto flood = RawPeer::connect(daemon_->socket_path());
    ASSERT_TRUE(flood.ok());
    ASSERT_TRUE(flood->hello().ok());
    const timeval bounded{0, 200'000};  // a send blocked on a full queue gives up: the test never hangs here
    ::setsockopt(flood->fd(), SOL_SOCKET, SO_SNDTIMEO, &bounded, sizeof bounded);
    for (std::uint32_t id = 1; id <= 400; ++id) {
      if (!flood->send(tcp_request("blue", id, 4)).ok()) break;  // EPIPE: dropped (EAGAIN: not read any more)
    }
    ASSERT_TRUE(eventually([&] { return daemon_->counters().peers_dropped.count("slow_peer") == 1; }))
        << daemon_->log_text();
    // It never got more than a few replies' worth of sockets.
    EXPECT_LT(daemon_->counters().sockets_made, 4u * 40);
    expect_served(good);
  }
  // Nothing of it is left here (the daemon's copies of the sockets it was sent closed at each reply).
  EXPECT_TRUE(eventually([&] { return open_fd_count() == fds_before; }));
}

TEST_F(StackServiceDaemonTest, TooManyPeersAreRefusedAtConnect) {
  start({}, ", max_peers: 2");
  std::optional<StackServiceClient> a(client());
  StackServiceClient b = client();
  auto third = StackServiceClient::connect(daemon_->socket_path(), 2s);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ECONNREFUSED);
  EXPECT_NE(third.error().message.find("too_many_peers"), std::string::npos) << third.error().message;
  a.reset();
  ASSERT_TRUE(eventually([&] { return daemon_->peers() == 1; }));
  auto again = StackServiceClient::connect(daemon_->socket_path(), 2s);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(daemon_->counters().peers_rejected.at("too_many_peers"), 1u);
  expect_served(b);
}

TEST_F(StackServiceDaemonTest, TheSocketFileHasTheModeAndIsRemovedAtTheEnd) {
  start({}, ", mode: \"0640\"");
  struct stat st {};
  ASSERT_EQ(::stat(daemon_->socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // The mode is the gate before admission: a peer outside it cannot even connect.
  const std::string path = daemon_->socket_path();
  const std::string said = run_as({kNobody, kNobody, {}, ""}, [&]() -> std::string {
    auto c = service::StackServiceClient::connect(path, 2s);
    return c ? "connected" : strerrorname_np(c.error().code);
  });
  EXPECT_EQ(said, "EACCES");
  // A second daemon on the same socket refuses to start.
  auto second = DaemonThread::start(dir_.file("dmm.yaml"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, EADDRINUSE) << second.error().message;
  EXPECT_NE(second.error().message.find("another daemon is listening there"), std::string::npos);
  daemon_.reset();
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "socket file left behind";
}

TEST_F(StackServiceDaemonTest, AStaleSocketFileIsReplacedAndOtherFilesAreNot) {
  const std::string path = dir_.file("stackd.sock");
  {
    // A socket file whose daemon died: bound, never listened on, closed.
    kernel::UniqueFd dead(::socket(AF_UNIX, SOCK_SEQPACKET, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
    ASSERT_EQ(::bind(dead.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
  }
  start();
  StackServiceClient c = client();
  expect_served(c);
  daemon_.reset();
  dir_.write("stackd.sock", "not a socket");
  auto refused = DaemonThread::start(write_config());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, EEXIST);
}

TEST_F(StackServiceDaemonTest, AMissingNamespaceOrServiceSectionStopsTheStart) {
  const std::string missing = dir_.write("missing.yaml",
                                         "stacks: [{name: gone, kind: kernel, netns: dmms-no-such-ns}]\n"
                                         "policy: [{match: {}, use: [gone]}]\n"
                                         "service: {socket: stackd.sock}\n");
  auto gone = DaemonThread::start(missing);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ENOENT);
  EXPECT_NE(gone.error().message.find("stack 'gone'"), std::string::npos) << gone.error().message;
  EXPECT_NE(::access(dir_.file("stackd.sock").c_str(), F_OK), 0) << "no socket before every namespace is open";

  const std::string without = dir_.write("without.yaml",
                                         "stacks: [{name: host, kind: kernel}]\npolicy: [{match: {}, use: [host]}]\n");
  auto none = DaemonThread::start(without);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, EINVAL);
  EXPECT_NE(none.error().message.find("no `service:` section"), std::string::npos);
}

}  // namespace
}  // namespace dmm::test
