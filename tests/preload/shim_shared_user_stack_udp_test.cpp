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

}  // namespace
}  // namespace dmm::test
