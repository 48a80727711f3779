// lwip-dpdk instances as a host service (issue 14): dmm-stackd runs them for every program under dmm-run, and a
// session's fd is the program's end of a session the daemon pumps — a real kernel fd whose data path needs no
// interposition. What breaks when each program runs its own lwIP on the same interface works here: several
// programs at once, forked children with inherited and new sessions, exec, raw system calls and stdio, workers
// that dropped root, a DNS client (dig: libuv, raw recvmmsg). The veth ends the instances drive are in the client
// namespace (no kernel address there), the kernel peers in srv.
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "echo_server.hpp"
#include "listening.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

using namespace std::chrono_literals;

class SharedUserStack : public PreloadTest {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    user_stacks_in_ = UserStacksIn::service;
    ::chmod(dir_->path().c_str(), 0711);  // workers that dropped root reach the daemon's socket in it
    config_ = write_user_config("  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                                "  - {match: {}, use: [host]}\n");
  }
  void TearDown() override {
    echo_.reset();
    http_.reset();
    PreloadTest::TearDown();
  }

  void start_http() {
    served_ = write_random_file(*dir_, "file.bin", 4 << 20);
    http_ = std::make_unique<Child>(start_http_server(*topo_, topo_->srv(), kUserServer0, dir_->path(), "8080"));
  }
  void start_echo() {
    echo_ = std::make_unique<EchoServer>(topo_->srv(), std::vector<std::string>{kUserServer0}, 7000);
  }
  // dmm-stackd processes running for this test's config.
  std::vector<pid_t> daemons() { return stack_services_of(config_); }
  int connects_on(const std::string& stack) {
    int n = 0;
    for (const auto& line : json_lines(read_text(log_)))
      if (line["event"] == "connect" && line["stack"] == stack) ++n;
    return n;
  }

  std::string config_;
  std::string served_;
  std::unique_ptr<Child> http_;
  std::unique_ptr<EchoServer> echo_;
};

TEST_F(SharedUserStack, EightDownloadsFromFourProgramsAtOnceAreAllIntact) {
  // Each program running its own lwIP on u0 reset the others' connections (4-6 of 8 failed).
  start_http();
  const std::string url = std::string("http://") + kUserServer0 + ":8080/file.bin";
  const Outcome o = run_dmm(config_, {"sh", "-c", "seq 8 | xargs -P4 -I{} curl -sS -o " + dir_->path() +
                                                      "/got{} " + url});
  ASSERT_TRUE(exited_with(o, 0));
  const std::string want = sha256_of(served_);
  for (int i = 1; i <= 8; ++i) EXPECT_EQ(sha256_of(dir_->file("got" + std::to_string(i))), want) << i;
  EXPECT_EQ(connects_on("user0"), 8) << read_text(log_);
  // One daemon, started on demand, serves them all, and a later program finds the same one.
  const std::vector<pid_t> first = daemons();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(exited_with(run_dmm(config_, {"curl", "-sS", "-o", dir_->file("again"), url}), 0));
  EXPECT_EQ(daemons(), first);
}

TEST_F(SharedUserStack, AForkedChildUsesInheritedSessionsAndOpensNewOnesAsDoesItsParent) {
  start_echo();
  const std::string script = std::string("import os, socket\n") +
                             "def echo(s, text):\n"
                             "    s.sendall(text)\n"
                             "    got = b''\n"
                             "    while len(got) < len(text):\n"
                             "        got += s.recv(4096)\n"
                             "    return got == text\n"
                             "inherited = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "pid = os.fork()\n"
                             "if pid == 0:\n"
                             "    ok = echo(inherited, b'child-on-inherited' * 100)\n"
                             "    fresh = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "    ok = ok and echo(fresh, b'child-on-new' * 100)\n"
                             "    os._exit(0 if ok else 1)\n"
                             "_, status = os.waitpid(pid, 0)\n"
                             "print('child=%d' % os.waitstatus_to_exitcode(status))\n"
                             "print('parent_inherited=%d' % echo(inherited, b'parent-after-child' * 100))\n"
                             "again = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "print('parent_new=%d' % echo(again, b'parent-new' * 100))\n";
  const Outcome o = run_dmm(config_, {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("child"), "0");  // in-program instances: EIO on the inherited one, EAFNOSUPPORT on a new one
  EXPECT_EQ(f.at("parent_inherited"), "1");
  EXPECT_EQ(f.at("parent_new"), "1");
  EXPECT_EQ(connects_on("user0"), 3) << read_text(log_);
}

TEST_F(SharedUserStack, ExecedProgramsStdioAndRawSystemCallsMoveTheSessionsBytes) {
  start_echo();
  // bash opens the session (/dev/tcp: connect), then cat and head — programs that never saw it opened — write to
  // and read from the inherited fd.
  const std::string in = write_random_file(*dir_, "in.bin", 200000);
  const Outcome o = run_dmm(config_, {"bash", "-c", "exec 3<>/dev/tcp/" + std::string(kUserServer0) +
                                                         "/7000; cat " + in + " >&3 & exec head -c 200000 <&3 > " +
                                                         dir_->file("out.bin")});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(sha256_of(dir_->file("out.bin")), sha256_of(in));
  // write(2) as a raw system call and reads through stdio (fdopen): no interposed call in the data path.
  const std::string script = std::string("import ctypes, socket\n") +
                             "libc = ctypes.CDLL(None, use_errno=True)\n"
                             "s = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "data = b'raw-syscall-bytes' * 1000\n"
                             "sent = libc.syscall(1, s.fileno(), data, len(data))\n"  // SYS_write
                             "f = libc.fdopen(s.fileno(), b'r')\n"
                             "buf = ctypes.create_string_buffer(len(data))\n"
                             "got = libc.fread(buf, 1, len(data), ctypes.c_void_p(f))\n"
                             "print('sent=%d' % sent)\n"
                             "print('same=%d' % (buf.raw[:got] == data))\n";
  const Outcome raw = run_dmm(config_, {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(raw, 0));
  EXPECT_EQ(facts(raw.out).at("sent"), "17000");
  EXPECT_EQ(facts(raw.out).at("same"), "1");
}

TEST_F(SharedUserStack, NginxWorkersRunningAsNobodyProxyToAnUpstreamOnTheInstance) {
  // master + 2 workers as nobody: the workers open every upstream session; in-program instances gave them
  // EAFNOSUPPORT (502). The daemon admits nobody (allow:).
  start_http();
  const std::string d = dir_->path();
  const std::string conf = dir_->write("nginx.conf", "daemon off;\nmaster_process on;\nworker_processes 2;\n"
                                       "user nobody nogroup;\npid " + d + "/nginx.pid;\nerror_log stderr warn;\n"
                                       "events { worker_connections 256; }\n"
                                       "http {\n  access_log off;\n"
                                       "  client_body_temp_path " + d + "/body; proxy_temp_path " + d + "/proxy;\n"
                                       "  fastcgi_temp_path " + d + "/fastcgi; uwsgi_temp_path " + d + "/uwsgi; "
                                       "scgi_temp_path " + d + "/scgi;\n"
                                       "  proxy_buffering off;\n"
                                       "  server {\n    listen 127.0.0.1:8081;\n"
                                       "    location /user/ { proxy_pass http://10.232.3.1:8080/; }\n  }\n}\n");
  Child nginx = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--log", log_, "--", "nginx", "-e",
                                            "stderr", "-p", d, "-c", conf}));
  ASSERT_TRUE(wait_until_listening(topo_->cli(), "127.0.0.1", 8081)) << nginx.wait(1s).err;
  constexpr int kRequests = 40;
  std::vector<std::string> argv{"curl", "-sS", "-Z", "--parallel-max", "8", "-w", "%{http_code} %{size_download}\\n"};
  for (int i = 0; i < kRequests; ++i) argv.insert(argv.end(), {"-o", "/dev/null", "http://127.0.0.1:8081/user/file.bin"});
  const Outcome o = run_plain(argv);
  EXPECT_EQ(occurrences(o.out, "200 4194304\n"), kRequests) << o.out << o.err;
  nginx.kill_group();
  int by_workers = 0;
  for (const auto& line : json_lines(read_text(log_)))
    if (line["event"] == "connect" && line["stack"] == "user0" && line["pid"] != nginx.pid()) ++by_workers;
  EXPECT_EQ(by_workers, kRequests) << read_text(log_);
}

TEST_F(SharedUserStack, AUserTheInstanceDoesNotAdmitIsRefusedByName) {
  start_http();
  const std::string url = std::string("http://") + kUserServer0 + ":8080/file.bin";
  // nobody is admitted (allow:); uid 1234 is not: its session fails and stderr names the key that would let it in.
  const Outcome nobody = run_dmm(config_, {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-sS",
                                           "-o", "/dev/null", "-w", "%{http_code}", url});
  ASSERT_TRUE(exited_with(nobody, 0));
  EXPECT_EQ(nobody.out, "200");
  const Outcome other = run_dmm(config_, {"setpriv", "--reuid=1234", "--regid=1234", "--clear-groups", "curl", "-sS",
                                          "-o", "/dev/null", url});
  EXPECT_TRUE(exited_with(other, 7));
  EXPECT_NE(other.err.find("not_allowed"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("stacks.user0.allow"), std::string::npos) << other.err;
}

TEST_F(SharedUserStack, DigResolvesOverTheInstancesUdp) {
  // BIND's dig (libuv) receives with raw recvmmsg and checks each reply's source address: the session's fd is a
  // real connected UDP socket whose peer is the server's address.
  Child dns = Child::spawn(topo_->in(topo_->srv(), {"dnsmasq", "--no-daemon", "--port=53",
                                                    std::string("--listen-address=") + kUserServer0,
                                                    "--bind-interfaces", "--no-resolv", "--no-hosts",
                                                    "--address=/dmm.test/10.9.9.9", "--user=root",
                                                    "--pid-file=" + dir_->file("dnsmasq.pid")}));
  // dnsmasq serves DNS over TCP on the same port: listening there means it is up.
  ASSERT_TRUE(wait_until_listening(topo_->srv(), kUserServer0, 53)) << dns.wait(1s).err;
  const Outcome o = run_dmm(config_, {"dig", std::string("@") + kUserServer0, "dmm.test", "+short", "+tries=1",
                                      "+time=3"});
  dns.kill_group();
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(o.out, "10.9.9.9\n");
  bool on_user0 = false;
  for (const auto& line : json_lines(read_text(log_))) on_user0 = on_user0 || (line["stack"] == "user0" && line["proto"] == "udp");
  EXPECT_TRUE(on_user0) << read_text(log_);
}

TEST_F(SharedUserStack, AHostThatDoesNotAnswerArpFailsInSecondsAndTheRankedListMovesOn) {
  // user0's gateway (10.232.3.77) does not exist: lwIP alone would retransmit the SYN for its whole user timeout
  // (30 s, ETIMEDOUT). Like the kernel, the connection gives up after ~3 s without an ARP reply (EHOSTUNREACH),
  // and the blocking connect moves on to blue, whose server is there.
  EchoServer blue_echo(topo_->srv(), {kBlueServer}, 7000);
  const std::string config = dir_->write(
      "gateway.yaml", "stacks:\n"
                      "  - {name: blue, kind: kernel, netns: " + topo_->blue() + "}\n"
                      "  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', address: 10.232.3.2/24, "
                      "gateway: 10.232.3.77, netns: " + topo_->cli() + "}\n"
                      // failover: this is about the failure lwIP reports; racing would carry the session over blue
                      // after the attempt delay instead (shim_race_test.cpp).
                      "policy:\n  - {match: {dst: 10.232.1.0/24}, use: [user0, blue], race: failover}\n"
                      "service: {socket: " + dir_->file("gateway.sock") + "}\n");
  const StackServicesStopper stop{config};
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = run_dmm(config, probe({"tcp", kBlueServer, "7000", "block"}));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack"], "blue");
  EXPECT_GT(seconds, 2.5);
  EXPECT_LT(seconds, 8.0);  // not lwIP's 30 s
  const auto lines = json_lines(read_text(log_));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["fallback_from"], "user0") << read_text(log_);
  EXPECT_NE(read_text(log_).find("No route to host"), std::string::npos) << read_text(log_);
}

// Servers on the instance: listeners on port 8090 go to user0; the clients are plain kernel programs in srv.
class SharedUserStackServers : public SharedUserStack {
protected:
  void SetUp() override {
    SharedUserStack::SetUp();
    config_ = write_user_config("  - {match: {port: 8090}, use: [user0]}\n"
                                "  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                                "  - {match: {}, use: [host]}\n", "servers.yaml");
  }
  Outcome in_srv(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s) {
    return run(topo_->in(topo_->srv(), argv), timeout);
  }
};

TEST_F(SharedUserStackServers, AcceptedConnectionsHaveTheirPeersAddressAndPortAndCarryBytesBothWays) {
  // A Python server on 0.0.0.0:8090 (the instance's address, 10.232.3.2): accept() returns a real fd whose
  // getpeername/getsockname are the TCP session's, then it echoes what it reads.
  const std::string script = std::string("import socket\n") +
                             "l = socket.socket()\n"
                             "l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                             "l.bind(('0.0.0.0', 8090))\n"
                             "l.listen(8)\n"
                             "print('listening=%d' % l.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), flush=True)\n"
                             "c, peer = l.accept()\n"
                             "print('peer=%s' % peer[0])\n"
                             "print('same_peer=%d' % (c.getpeername() == peer))\n"
                             "print('local=%s:%d' % c.getsockname())\n"
                             "got = b''\n"
                             "while len(got) < 100000:\n"
                             "    got += c.recv(65536)\n"
                             "c.sendall(got)\n"
                             "c.close()\n";
  Child server = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--log", log_, "--",
                                             "/usr/bin/python3", "-c", script}));
  ASSERT_EQ(server.read_line(10s).value_or(""), "listening=1");
  const std::string client = std::string("import socket, os\n") +
                             "s = socket.create_connection(('10.232.3.2', 8090))\n"
                             "data = os.urandom(100000)\n"
                             "s.sendall(data)\n"
                             "got = b''\n"
                             "while len(got) < len(data):\n"
                             "    got += s.recv(65536)\n"
                             "print('same=%d' % (got == data))\n";
  const Outcome c = in_srv({"/usr/bin/python3", "-c", client});
  ASSERT_TRUE(exited_with(c, 0));
  EXPECT_EQ(facts(c.out).at("same"), "1");
  const Outcome o = server.wait(10s);
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("peer"), kUserServer0);  // the kernel client's address in srv
  EXPECT_EQ(f.at("same_peer"), "1");
  EXPECT_EQ(f.at("local"), std::string(kUserClient0) + ":8090");
  const std::string log = read_text(log_);
  EXPECT_NE(log.find("\"event\":\"listen\""), std::string::npos) << log;
  // Restarted at once on the same port (its last connection's TIME_WAIT in lwIP notwithstanding).
  Child again = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--", "/usr/bin/python3", "-c",
                                            "import socket\nl = socket.socket()\n"
                                            "l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                            "l.bind(('0.0.0.0', 8090))\nl.listen(1)\nprint('again', flush=True)\n"}));
  EXPECT_EQ(again.read_line(10s).value_or(""), "again") << again.wait(1s).err;
  EXPECT_NE(log.find("\"stack\":\"user0\""), std::string::npos) << log;
}

TEST_F(SharedUserStackServers, AListenerOnPortZeroReportsThePortTheInstancePicked) {
  const std::string config = write_user_config("  - {match: {}, use: [user0]}\n", "anyport.yaml");
  Child server = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config, "--", "/usr/bin/python3", "-c",
                                             "import socket\nl = socket.socket()\nl.listen(1)\n"
                                             "print('port=%d' % l.getsockname()[1], flush=True)\n"
                                             "c, _ = l.accept()\nc.sendall(b'picked')\n"}));
  const std::string port = facts(server.read_line(10s).value_or("") + "\n")["port"];
  ASSERT_FALSE(port.empty());
  EXPECT_NE(port, "0");
  const Outcome c = in_srv({"/usr/bin/python3", "-c",
                            "import socket, sys\ns = socket.create_connection(('10.232.3.2', int(sys.argv[1])))\n"
                            "print(s.recv(100).decode())\n", port});
  ASSERT_TRUE(exited_with(c, 0)) << c.err;
  EXPECT_EQ(c.out, "picked\n");
  EXPECT_TRUE(exited_with(server.wait(10s), 0));
}

TEST_F(SharedUserStackServers, AClientReusingAPortInTheServersTimeWaitConnectsAgainAtOnce) {
  // The server closes first, so lwIP holds each connection in TIME-WAIT (2 MSL: 120 s). A client whose port comes
  // round again (a busy client's ephemeral ports do within seconds) must get a new connection, as from Linux.
  Child server = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--", "/usr/bin/python3", "-c",
                                             "import socket\nl = socket.socket()\nl.bind(('0.0.0.0', 8090))\n"
                                             "l.listen(8)\nprint('up', flush=True)\n"
                                             "for _ in range(3):\n    c, _ = l.accept()\n    c.sendall(b'hi')\n"
                                             "    c.close()\n"}));
  ASSERT_EQ(server.read_line(10s).value_or(""), "up");
  const Outcome c = in_srv({"/usr/bin/python3", "-c",
                            "import socket, time\n"
                            "for i in range(3):\n"
                            "    time.sleep(0.2)\n"  // the client's own LAST-ACK of the previous one is over
                            "    s = socket.socket()\n"
                            "    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                            "    s.settimeout(2)\n"
                            "    s.bind(('10.232.3.1', 47001))\n"
                            "    t = time.monotonic()\n"
                            "    s.connect(('10.232.3.2', 8090))\n"
                            "    got = b''\n"
                            "    while True:\n"  // to the server's FIN: the server is the one that closes first
                            "        more = s.recv(10)\n"
                            "        if not more: break\n"
                            "        got += more\n"
                            "    s.close()\n"
                            "    print('%s in %d ms' % (got.decode(), (time.monotonic() - t) * 1000 // 100 * 100))\n"});
  ASSERT_TRUE(exited_with(c, 0)) << c.err;
  EXPECT_EQ(c.out, "hi in 0 ms\nhi in 0 ms\nhi in 0 ms\n");
  EXPECT_TRUE(exited_with(server.wait(10s), 0));
}

TEST_F(SharedUserStackServers, NginxWithWorkersAsNobodyServesAbOverTheInstance) {
  // nginx's usual pair of listens, 0.0.0.0:8090 and [::]:8090 (IPV6_V6ONLY), side by side on the instance.
  const std::string served = write_random_file(*dir_, "page.bin", 20000);
  const std::string d = dir_->path();
  const std::string conf = dir_->write("nginx.conf", "daemon off;\nmaster_process on;\nworker_processes 2;\n"
                                       "user nobody nogroup;\npid " + d + "/nginx.pid;\nerror_log stderr warn;\n"
                                       "events { worker_connections 256; }\n"
                                       "http {\n  access_log off;\n"
                                       "  client_body_temp_path " + d + "/body; proxy_temp_path " + d + "/proxy;\n"
                                       "  fastcgi_temp_path " + d + "/fastcgi; uwsgi_temp_path " + d + "/uwsgi; "
                                       "scgi_temp_path " + d + "/scgi;\n"
                                       "  server {\n    listen 8090;\n    listen [::]:8090;\n    root " + d + ";\n  }\n}\n");
  Child nginx = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--log", log_, "--", "nginx", "-e",
                                            "stderr", "-p", d, "-c", conf}));
  // Not listening in the client namespace's kernel: the listener is the instance's, reached from srv.
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = exited_with(in_srv({"curl", "-sS", "-o", "/dev/null", "http://10.232.3.2:8090/page.bin"}, 5s), 0);
    if (!up) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(up) << nginx.wait(1s).err;
  const Outcome ab = in_srv({"ab", "-n", "400", "-c", "8", "http://10.232.3.2:8090/page.bin"});
  nginx.kill_group();
  ASSERT_TRUE(exited_with(ab, 0));
  EXPECT_NE(ab.out.find("Complete requests:      400"), std::string::npos) << ab.out;
  EXPECT_NE(ab.out.find("Failed requests:        0"), std::string::npos) << ab.out;
  EXPECT_NE(ab.out.find("Document Length:        20000 bytes"), std::string::npos) << ab.out;
}

TEST_F(SharedUserStackServers, RedisServerAnswersRedisBenchmarkOverTheInstance) {
  // Its default bind (`* -::*`: 0.0.0.0 and [::] with IPV6_V6ONLY).
  Child redis = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--", "redis-server", "--port", "8090",
                                            "--save", "", "--appendonly", "no",
                                            "--protected-mode", "no", "--daemonize", "no"}));
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    const Outcome ping = in_srv({"redis-cli", "-h", "10.232.3.2", "-p", "8090", "ping"}, 5s);
    up = exited_with(ping, 0) && ping.out == "PONG\n";
    if (!up) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(up) << redis.wait(1s).out;
  const Outcome bench = in_srv({"redis-benchmark", "-h", "10.232.3.2", "-p", "8090", "-n", "5000", "-c", "10", "-t",
                                "set,get", "-q", "--csv"});
  redis.kill_group();
  ASSERT_TRUE(exited_with(bench, 0)) << bench.err;
  // "SET","21834.06",... : a rate for each test means all 5000 requests of it were answered.
  for (const std::string test : {"SET", "GET"}) {
    const auto at = bench.out.find("\"" + test + "\",\"");
    ASSERT_NE(at, std::string::npos) << bench.out;
    EXPECT_GT(std::stod(bench.out.substr(at + test.size() + 4)), 100.0) << bench.out;
  }
}

TEST_F(SharedUserStack, Ipv6CurlDigAndAServerOverTheInstance) {
  // address6: the instance speaks IPv6 too (on-link: lwIP 2.1 takes routers from advertisements only); the
  // policy's IPv6 rules place sessions and listeners on it.
  ASSERT_TRUE(exited_with(run(topo_->in(topo_->srv(), {"ip", "addr", "add", "fd00:232:3::1/64", "dev", "u0",
                                                       "nodad"})), 0));
  const std::string config = dir_->write(
      "v6.yaml", "stacks:\n"
                 "  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', address: 10.232.3.2/24, "
                 "address6: 'fd00:232:3::2/64', netns: " + topo_->cli() + "}\n"
                 "policy:\n  - {match: {dst: 'fd00:232:3::/64'}, use: [user0]}\n"
                 "  - {match: {port: 8090}, use: [user0]}\n"
                 "service: {socket: " + dir_->file("v6.sock") + "}\n");
  const StackServicesStopper stop{config};
  // curl to an IPv6 server in srv.
  start_http();
  Child http6 = start_http_server(*topo_, topo_->srv(), "fd00:232:3::1", dir_->path(), "8081");
  const Outcome curl = run_dmm(config, {"curl", "-g", "-sS", "-o", dir_->file("v6.bin"), "-w", "%{local_ip}",
                                        "http://[fd00:232:3::1]:8081/file.bin"});
  ASSERT_TRUE(exited_with(curl, 0));
  EXPECT_EQ(curl.out, "fd00:232:3::2");
  EXPECT_EQ(sha256_of(dir_->file("v6.bin")), sha256_of(served_));
  // dig over IPv6 UDP.
  Child dns = Child::spawn(topo_->in(topo_->srv(), {"dnsmasq", "--no-daemon", "--port=53",
                                                    "--listen-address=fd00:232:3::1", "--bind-interfaces",
                                                    "--no-resolv", "--no-hosts", "--address=/dmm.test/10.9.9.9",
                                                    "--user=root", "--pid-file=" + dir_->file("dnsmasq6.pid")}));
  bool dns_up = false;  // its TCP socket on [fd00:232:3::1]:53 (wait_until_listening reads IPv4's table only)
  for (int i = 0; i < 100 && !dns_up; ++i) {
    dns_up = run(topo_->in(topo_->srv(), {"ss", "-Hltn", "sport = :53"})).out.find("fd00:232:3::1") != std::string::npos;
    if (!dns_up) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(dns_up) << dns.wait(1s).err;
  const Outcome dig = run_dmm(config, {"dig", "@fd00:232:3::1", "dmm.test", "+short", "+tries=1", "+time=3"});
  dns.kill_group();
  ASSERT_TRUE(exited_with(dig, 0));
  EXPECT_EQ(dig.out, "10.9.9.9\n");
  // A server on the IPv6 any address of the instance, reached by a kernel client over IPv6.
  const std::string script = std::string("import socket\n") +
                             "l = socket.socket(socket.AF_INET6)\n"
                             "l.bind(('::', 8090))\n"
                             "l.listen(4)\n"
                             "print('listening', flush=True)\n"
                             "c, peer = l.accept()\n"
                             "print('peer=%s' % peer[0])\n"
                             "c.sendall(c.recv(100))\n";
  Child server = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config, "--", "/usr/bin/python3", "-c", script}));
  ASSERT_EQ(server.read_line(10s).value_or(""), "listening");
  const Outcome client = run(topo_->in(topo_->srv(), {"/usr/bin/python3", "-c",
      "import socket\ns = socket.create_connection(('fd00:232:3::2', 8090))\ns.sendall(b'hello6')\n"
      "print(s.recv(100).decode())\n"}));
  ASSERT_TRUE(exited_with(client, 0));
  EXPECT_EQ(client.out, "hello6\n");
  const Outcome served = server.wait(10s);
  ASSERT_TRUE(exited_with(served, 0));
  EXPECT_EQ(facts(served.out).at("peer"), "fd00:232:3::1");
  // A neighbour that never answers solicitations fails a connect in seconds (EHOSTUNREACH), as IPv4's ARP does.
  const Outcome absent = run_dmm(config, {"/usr/bin/python3", "-c",
      "import socket, time, errno\ns = socket.socket(socket.AF_INET6)\nt = time.monotonic()\n"
      "try:\n    s.connect(('fd00:232:3::99', 80))\n    print('error=none')\n"
      "except OSError as e:\n    print('error=%s' % errno.errorcode[e.errno])\n"
      "print('seconds=%d' % (time.monotonic() - t))\n"});
  ASSERT_TRUE(exited_with(absent, 0)) << absent.err;
  EXPECT_EQ(facts(absent.out).at("error"), "EHOSTUNREACH");
  EXPECT_LE(std::stoi(facts(absent.out).at("seconds")), 5);
}

TEST_F(SharedUserStack, AnInstanceInsideAProgramCannotTakeTheInterfaceTheDaemonDrives) {
  // The same interface in a config without `service:` (the instance would run inside the program, beside the
  // daemon's, and each would reset the other's connections): refused at once, naming the daemon.
  start_http();
  const std::string url = std::string("http://") + kUserServer0 + ":8080/file.bin";
  ASSERT_TRUE(exited_with(run_dmm(config_, {"curl", "-sS", "-o", "/dev/null", url}), 0));
  ASSERT_EQ(daemons().size(), 1u);
  const std::string inside = dir_->write(
      "inside.yaml", "stacks:\n  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', "
                     "address: 10.232.3.2/24}\npolicy:\n  - {match: {}, use: [user0]}\n");
  const Outcome o = run_dmm(inside, {"curl", "-sS", "-o", "/dev/null", url});
  EXPECT_TRUE(exited_with(o, 7));
  EXPECT_NE(o.err.find("interface 'u0'"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("(dmm-stackd)"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("service:"), std::string::npos) << o.err;
  // The daemon's instance is untouched: its next session works.
  EXPECT_TRUE(exited_with(run_dmm(config_, {"curl", "-sS", "-o", "/dev/null", url}), 0));
  // Nothing left behind once the daemon stops: the lock file goes with its instance.
  struct stat ns {};
  ASSERT_EQ(::stat(("/run/netns/" + topo_->cli()).c_str(), &ns), 0);
  const std::string lock = "/run/dmm/lwip/" + std::to_string(ns.st_ino) + ".u0.lock";
  EXPECT_TRUE(std::filesystem::exists(lock));
  stop_stack_services_of(config_);
  EXPECT_TRUE(daemons().empty());
  EXPECT_FALSE(std::filesystem::exists(lock));
}

TEST_F(SharedUserStack, AnOnDemandDaemonEndsWhenIdleAndADaemonThatCannotStartIsNamed) {
  // --idle-exit: with no program connected and no session open for that long, the daemon exits 0.
  Child idle = Child::spawn(topo_->in_cli({stackd_bin(), "--config", config_, "--idle-exit", "1s"}));
  const Outcome ended = idle.wait(10s);
  ASSERT_TRUE(exited_with(ended, 0));
  EXPECT_NE(ended.err.find("event=idle_exit"), std::string::npos) << ended.err;
  // An instance the daemon cannot start (its interface is taken away after dmm-run's check cannot see it here:
  // the daemon is started by hand) stops the daemon with exit 3, naming the stack.
  const std::string bad = dir_->write("bad.yaml", "stacks:\n  - {name: user9, kind: lwip-dpdk, "
                                                  "vdev: 'net_af_packet9,iface=nope9', address: 10.232.9.2/24}\n"
                                                  "policy:\n  - {match: {}, use: [user9]}\n"
                                                  "service: {socket: " + dir_->file("bad.sock") + "}\n");
  const Outcome refused = run(topo_->in_cli({stackd_bin(), "--config", bad}));
  EXPECT_TRUE(exited_with(refused, 3));
  EXPECT_NE(refused.err.find("stack 'user9' cannot start"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir_->file("bad.sock")));
}

TEST_F(SharedUserStack, AnEditedInstanceIsRunAnewByTheNextProgramOnceTheOnDemandDaemonIsIdle) {
  start_http();
  const auto local_ip = [&] {
    const Outcome o = run_dmm(config_, {"curl", "-sS", "-o", "/dev/null", "-w", "%{local_ip}",
                                        std::string("http://") + kUserServer0 + ":8080/file.bin"});
    EXPECT_TRUE(exited_with(o, 0)) << o.err;
    return o.out;
  };
  EXPECT_EQ(local_ip(), kUserClient0);  // the on-demand daemon started with the config as written
  ASSERT_FALSE(daemons().empty());
  // The instance's address changes (saved as editors do: written aside, renamed over). The daemon cannot move a
  // running instance; it exits once no program uses it, and the next program's dmm-run starts it anew.
  std::string text = read_text(config_);
  const std::string from = std::string(kUserClient0) + "/24";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "10.232.3.7/24");
  const std::string next = dir_->write("edited.yaml", text);
  ASSERT_EQ(::rename(next.c_str(), config_.c_str()), 0);
  bool gone = false;
  for (int i = 0; i < 80 && !gone; ++i) {
    gone = daemons().empty();
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << "the on-demand daemon still runs the old instance";
  EXPECT_EQ(local_ip(), "10.232.3.7");
  // Why the first one stopped stays readable next to the new one's log.
  EXPECT_NE(read_text(dir_->file("stackd.sock.log.1")).find("event=exit_for_config"), std::string::npos);
}

}  // namespace
}  // namespace dmm::test
