// UDP with any number of peers on an lwip-dpdk instance that dmm-stackd runs (issue 14): one unconnected socket
// talks to several peers and sees each reply's real source; a UDP server on the instance answers kernel clients of
// both families from one dual-stack socket; DNS servers and clients work over it unmodified. The instance (lwIP,
// 10.232.3.2 and fd00:232:3::2) drives u0's end in the client namespace; the kernel peers are in srv.
#include <thread>

#include "listening.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

using namespace std::chrono_literals;

class SharedUserStackUdp : public PreloadTest {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    user_stacks_in_ = UserStacksIn::service;
    config_ = write_user_config("  - {match: {port: 5300}, use: [user0]}\n"
                                "  - {match: {port: 53}, use: [user0]}\n"
                                "  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                                "  - {match: {}, use: [host]}\n", "udp.yaml");
  }
  void TearDown() override {
    stop_stack_services_of(config_);
    PreloadTest::TearDown();
  }
  Outcome in_srv(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s) {
    return run(topo_->in(topo_->srv(), argv), timeout);
  }
  bool decided_udp_on(const std::string& stack) {
    for (const auto& line : json_lines(read_text(log_)))
      if (line["stack"] == stack && line["proto"] == "udp") return true;
    return false;
  }
  std::string config_;
};

// Kernel UDP servers in srv: each answers a datagram with its own port and what it got.
constexpr const char* kTwoEchoes =
    "import socket, select\n"
    "socks = []\n"
    "for port in (7001, 7002):\n"
    "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "    s.bind(('10.232.3.1', port))\n"
    "    socks.append(s)\n"
    "print('up', flush=True)\n"
    "answered = 0\n"
    "while answered < 6:\n"
    "    for s in select.select(socks, [], [], 20)[0]:\n"
    "        data, peer = s.recvfrom(2048)\n"
    "        s.sendto(b'%d:' % s.getsockname()[1] + data, peer)\n"
    "        answered += 1\n";

TEST_F(SharedUserStackUdp, OneUnconnectedSocketTalksToSeveralPeersAndSeesEachRepliesRealSource) {
  Child echoes = Child::spawn(topo_->in(topo_->srv(), {"/usr/bin/python3", "-c", kTwoEchoes}));
  ASSERT_EQ(echoes.read_line(10s).value_or(""), "up");
  const std::string client =
      "import socket, errno\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "s.settimeout(5)\n"
      "s.sendto(b'a', ('10.232.3.1', 7001))\n"
      "s.sendto(b'b', ('10.232.3.1', 7002))\n"
      "got = sorted('%s:%d=%s' % (p[0], p[1], d.decode()) for d, p in (s.recvfrom(100), s.recvfrom(100)))\n"
      "print('got=' + ','.join(got))\n"
      "print('local=%s:%d' % s.getsockname())\n"
      "try:\n"
      "    s.getpeername()\n"
      "    print('peer=yes')\n"
      "except OSError as e:\n"
      "    print('peer=%s' % errno.errorcode[e.errno])\n"
      // A later connect narrows it to one peer, as on a kernel socket.
      "s.connect(('10.232.3.1', 7002))\n"
      "s.send(b'c')\n"
      "print('connected=%s' % s.recv(100).decode())\n"
      // 7001's answer to this one is not for a socket connected to 7002: the next datagram read is 7002's.
      "s.sendto(b'd', ('10.232.3.1', 7001))\n"
      "s.send(b'e')\n"
      "print('next=%s' % s.recv(100).decode())\n"
      // Still served after the daemon's checks for closed sockets (every 2 s) have looked at it twice.
      "import time\n"
      "time.sleep(4.5)\n"
      "s.send(b'f')\n"
      "print('later=%s' % s.recv(100).decode())\n";
  const Outcome o = run_dmm(config_, {"/usr/bin/python3", "-c", client});
  ASSERT_TRUE(exited_with(o, 0)) << o.err;
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("got"), "10.232.3.1:7001=7001:a,10.232.3.1:7002=7002:b");
  EXPECT_EQ(f.at("local").substr(0, 8), "0.0.0.0:");  // unbound address, a port of the instance's
  EXPECT_EQ(f.at("peer"), "ENOTCONN");
  EXPECT_EQ(f.at("connected"), "7002:c");
  EXPECT_EQ(f.at("next"), "7002:e");
  EXPECT_EQ(f.at("later"), "7002:f");
  EXPECT_TRUE(exited_with(echoes.wait(10s), 0));  // every datagram reached its server
  EXPECT_TRUE(decided_udp_on("user0")) << read_text(log_);
}

TEST_F(SharedUserStackUdp, AServerOnTheInstancesDualStackPortAnswersKernelClientsOfBothFamilies) {
  ASSERT_TRUE(exited_with(run(topo_->in(topo_->srv(), {"ip", "addr", "add", "fd00:232:3::1/64", "dev", "u0",
                                                       "nodad"})), 0));
  const std::string config = dir_->write(
      "v6.yaml", "stacks:\n"
                 "  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', address: 10.232.3.2/24, "
                 "address6: 'fd00:232:3::2/64', netns: " + topo_->cli() + "}\n"
                 "policy:\n  - {match: {port: 5300}, use: [user0]}\n"
                 "service: {socket: " + dir_->file("v6.sock") + "}\n");
  const StackServicesStopper stop{config};
  // One IPv6 socket without IPV6_V6ONLY on [::]:5300: IPv4 clients arrive as mapped addresses, as on Linux.
  const std::string server =
      "import socket\n"
      "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
      "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n"
      "s.bind(('::', 5300))\n"
      "print('bound=%s:%d' % s.getsockname()[:2], flush=True)\n"
      "for _ in range(2):\n"
      "    data, peer = s.recvfrom(100)\n"
      "    s.sendto(b'%s|%s' % (data, peer[0].encode()), peer)\n";
  auto serve = [&] {
    return Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config, "--log", log_, "--", "/usr/bin/python3",
                                       "-c", server}));
  };
  const std::string client =
      "import socket, sys\n"
      "family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
      "s = socket.socket(family, socket.SOCK_DGRAM)\n"
      "s.settimeout(5)\n"
      "s.sendto(sys.argv[2].encode(), (sys.argv[1], 5300))\n"
      "data, peer = s.recvfrom(100)\n"
      "print('%s from %s:%d' % (data.decode(), peer[0], peer[1]))\n";
  for (int round = 0; round < 2; ++round) {  // the second: a server restarted at once gets its port back
    Child s = serve();
    ASSERT_EQ(s.read_line(10s).value_or(""), "bound=:::5300") << s.wait(1s).err;
    const Outcome v4 = in_srv({"/usr/bin/python3", "-c", client, "10.232.3.2", "four"});
    ASSERT_TRUE(exited_with(v4, 0)) << v4.err;
    EXPECT_EQ(v4.out, "four|::ffff:10.232.3.1 from 10.232.3.2:5300\n");
    const Outcome v6 = in_srv({"/usr/bin/python3", "-c", client, "fd00:232:3::2", "six"});
    ASSERT_TRUE(exited_with(v6, 0)) << v6.err;
    EXPECT_EQ(v6.out, "six|fd00:232:3::1 from fd00:232:3::2:5300\n");
    ASSERT_TRUE(exited_with(s.wait(10s), 0));
  }
  EXPECT_TRUE(decided_udp_on("user0")) << read_text(log_);
}

TEST_F(SharedUserStackUdp, DnsmasqOnTheInstanceAnswersDig) {
  // dnsmasq under dmm-run: UDP and TCP on 0.0.0.0:53 and [::]:53 (IPV6_V6ONLY) — the instance's, which has no IPv6
  // address (the IPv6 any address binds all the same, as on Linux) — asked by a kernel dig in srv. (Over TCP it
  // closes each connection: in its wildcard mode it asks an accepted socket for IP_PKTOPTIONS, which the AF_UNIX
  // end of a TCP session of the daemon's does not answer.)
  Child dns = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--log", log_, "--", "dnsmasq",
                                          "--no-daemon", "--port=53", "--no-resolv", "--no-hosts",
                                          "--address=/dmm.test/10.9.9.9", "--user=root",
                                          "--pid-file=" + dir_->file("dnsmasq.pid")}));
  Outcome dig;
  for (int i = 0; i < 50; ++i) {  // until it is up
    dig = in_srv({"dig", "@10.232.3.2", "dmm.test", "+short", "+tries=1", "+time=1"});
    if (exited_with(dig, 0) && dig.out == "10.9.9.9\n") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(dig.out, "10.9.9.9\n") << read_text(log_);
  dns.kill_group();
  EXPECT_TRUE(decided_udp_on("user0")) << read_text(log_);
}

TEST_F(SharedUserStackUdp, OptionsSetBeforeTheFirstSendAndABindToTheInstancesAddressHold) {
  Child echoes = Child::spawn(topo_->in(topo_->srv(), {"/usr/bin/python3", "-c", kTwoEchoes}));
  ASSERT_EQ(echoes.read_line(10s).value_or(""), "up");
  // IP_PKTINFO set before the first sendto (as DNS servers and resolvers do) reaches the socket the daemon hands
  // over; a socket bound to the instance's own address with port 0 (dig -b) is placed at bind.
  const std::string client =
      "import socket\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "IP_PKTINFO = 8\n"  // Linux; this Python does not name it
      "s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)\n"
      "s.settimeout(5)\n"
      "s.sendto(b'a', ('10.232.3.1', 7001))\n"
      "data, ancillary, flags, peer = s.recvmsg(100, 1024)\n"
      "print('pktinfo=%d option=%d' % (len(ancillary), s.getsockopt(socket.IPPROTO_IP, IP_PKTINFO)))\n"
      "b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "b.settimeout(5)\n"
      "b.bind(('10.232.3.2', 0))\n"
      "b.sendto(b'b', ('10.232.3.1', 7002))\n"
      "print('bound=%s reply=%s' % (b.getsockname()[0], b.recvfrom(100)[0].decode()))\n"
      "for _ in range(4):\n"  // the rest of kTwoEchoes' six answers
      "    s.sendto(b'c', ('10.232.3.1', 7001)); s.recvfrom(100)\n";
  const Outcome o = run_dmm(config_, {"/usr/bin/python3", "-c", client});
  ASSERT_TRUE(exited_with(o, 0)) << o.err;
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("pktinfo"), "1");
  EXPECT_EQ(f.at("option"), "1");
  EXPECT_EQ(f.at("bound"), "10.232.3.2");
  EXPECT_EQ(f.at("reply"), "7002:b");
  EXPECT_TRUE(exited_with(echoes.wait(10s), 0));
}

TEST_F(SharedUserStackUdp, APrivilegedPortNeedsThePeersOwnPrivilege) {
  // nobody is allowed on the instance (allow: {users: [nobody]}), but port 53 is below ip_unprivileged_port_start:
  // as on a kernel socket, only root or CAP_NET_BIND_SERVICE binds it; an unprivileged port is fine.
  const std::string script = "import socket, sys\n"
                             "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                             "try:\n"
                             "    s.bind(('0.0.0.0', int(sys.argv[1])))\n"
                             "    print('bound')\n"
                             "except OSError as e:\n"
                             "    print('error=%d' % e.errno)\n";
  for (const auto& [port, expected] : {std::pair{"53", "error=13"}, std::pair{"5300", "bound"}}) {
    const Outcome o = run_dmm(config_, {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                        "/usr/bin/python3", "-c", script, port});
    ASSERT_TRUE(exited_with(o, 0)) << o.err;
    EXPECT_EQ(o.out, std::string(expected) + "\n") << port << o.err;
  }
}

TEST_F(SharedUserStackUdp, AFirstDatagramTheInstanceCannotRouteMovesDownTheRankedList) {
  // user0 (10.232.3.2/24, no gateway) has no route to 10.232.4.1; the rule ranks user1 next, which has.
  const std::string config = write_user_config("  - {match: {dst: 10.232.4.0/24}, use: [user0, user1]}\n"
                                               "  - {match: {}, use: [host]}\n", "ranked.yaml");
  Child echo = Child::spawn(topo_->in(topo_->srv(), {"/usr/bin/python3", "-c",
      "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('10.232.4.1', 7003))\n"
      "print('up', flush=True)\nd, p = s.recvfrom(100)\ns.sendto(d, p)\n"}));
  ASSERT_EQ(echo.read_line(10s).value_or(""), "up");
  const Outcome o = run_dmm(config, {"/usr/bin/python3", "-c",
      "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(5)\n"
      "s.sendto(b'routed', ('10.232.4.1', 7003))\nd, p = s.recvfrom(100)\nprint('%s from %s' % (d.decode(), p[0]))\n"});
  stop_stack_services_of(config);
  ASSERT_TRUE(exited_with(o, 0)) << o.err;
  EXPECT_EQ(o.out, "routed from 10.232.4.1\n");
  bool fell_back = false;
  for (const auto& line : json_lines(read_text(log_)))
    fell_back = fell_back || (line["stack"] == "user1" && line.contains("fallback_from") && line["fallback_from"] == "user0");
  EXPECT_TRUE(fell_back) << read_text(log_);
}

}  // namespace
}  // namespace dmm::test
