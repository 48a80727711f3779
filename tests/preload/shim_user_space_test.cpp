// Sessions carried by lwip-dpdk instances through the preload shim, each test twice: with the instances inside
// the program (no `service:` in the host config: the program holds a kernel fd whose readiness mirrors the
// user-space connection, the data path is the shim's) and in dmm-stackd, shared by every program (the fd is the
// program's end of a session the daemon pumps). Either way blocking, non-blocking, epoll and select behave as
// with a kernel socket. The veth ends the instances drive are in the client namespace (no kernel address
// there), the kernel peers in srv.
#include <algorithm>

#include "echo_server.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

constexpr const char* kPort = "7000";

class ShimUserSpace : public PreloadTest, public ::testing::WithParamInterface<UserStacksIn> {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    user_stacks_in_ = GetParam();
    config_ = write_user_config("  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                                "  - {match: {dst: 10.232.4.0/24}, use: [user1]}\n"
                                "  - {match: {dst: 10.232.1.0/24}, use: [blue]}\n"
                                "  - {match: {}, use: [host]}\n");
    server_ = std::make_unique<EchoServer>(topo_->srv(),
                                           std::vector<std::string>{kUserServer0, kUserServer1, kBlueServer}, 7000);
  }
  void TearDown() override {
    server_.reset();
    PreloadTest::TearDown();
  }
  std::string config_;
  std::unique_ptr<EchoServer> server_;
};

INSTANTIATE_TEST_SUITE_P(Modes, ShimUserSpace, ::testing::Values(UserStacksIn::program, UserStacksIn::service),
                         [](const auto& info) { return to_string(info.param); });

// What only an instance inside the program does: a vdev DPDK refuses is met by the program's own start. (An
// instance dmm-stackd cannot start stops the daemon instead: SharedUserStack.AnOnDemandDaemonEndsWhenIdle...)
using ShimUserSpaceInProgram = ShimUserSpace;
INSTANTIATE_TEST_SUITE_P(Modes, ShimUserSpaceInProgram, ::testing::Values(UserStacksIn::program),
                         [](const auto& info) { return to_string(info.param); });

TEST_P(ShimUserSpace, BlockingConnectAndEchoOverAnLwipInstance) {
  const Outcome o = run_dmm(config_, probe({"tcp", kUserServer0, kPort, "block"}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack"], "user0");
  EXPECT_EQ(facts(o.out)["protocol"], "6");  // the program sees a TCP socket
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kUserClient0}));
  const auto lines = json_lines(read_text(log_));
  ASSERT_EQ(lines.size(), 1u) << read_text(log_);
  EXPECT_EQ(lines[0]["stack"], "user0");
  EXPECT_EQ(o.err, "");
}

TEST_P(ShimUserSpace, NonBlockingConnectsOfTwoLwipInstancesAndAKernelOneInOneEpollSet) {
  const Outcome o =
      run_dmm(config_, probe({"epoll3", kUserServer0, kPort, kUserServer1, kPort, kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("stack1"), "user0");
  EXPECT_EQ(f.at("stack2"), "user1");
  EXPECT_EQ(f.at("stack3"), "blue");
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kUserClient0, kUserClient1, kBlueClient}));
}

TEST_P(ShimUserSpace, EightMegabytesEchoedByteExactWithBlockingReadsAndWrites) {
  const Outcome o = run_dmm(config_, probe({"big", kUserServer0, kPort, std::to_string(8 << 20)}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("sent"), std::to_string(8 << 20));
  EXPECT_EQ(f.at("received"), std::to_string(8 << 20));
  EXPECT_EQ(f.at("wrong"), "0");
  EXPECT_EQ(f.at("stack"), "user0");
}

TEST_P(ShimUserSpace, ARefusedConnectionIsReportedAsTheKernelWould) {
  const Outcome o = run_dmm(config_, probe({"tcp", kUserServer0, "9", "block"}));
  EXPECT_TRUE(exited_with(o, 3));
  EXPECT_EQ(facts(o.out)["error"], "connect:ECONNREFUSED");
  const Outcome nb = run_dmm(config_, probe({"tcp", kUserServer0, "9", "nonblock"}));
  EXPECT_TRUE(exited_with(nb, 3));
  EXPECT_EQ(facts(nb.out)["error"], "connect:ECONNREFUSED");  // via SO_ERROR after POLLOUT
}

TEST_P(ShimUserSpaceInProgram, ABadVdevIsNamedOnceAndTheRankedListMovesOn) {
  // user9's vdev names an interface that does not exist: DPDK refuses it; user0 and blue still work.
  const std::string config = dir_->write(
      "bad.yaml", "stacks:\n"
                  "  - {name: blue, kind: kernel, netns: " + topo_->blue() + "}\n"
                  "  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', address: 10.232.3.2/24}\n"
                  "  - {name: user9, kind: lwip-dpdk, vdev: 'net_af_packet9,iface=nope9', address: 10.232.9.2/24}\n"
                  "policy:\n"
                  "  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                  "  - {match: {}, use: [user9, blue]}\n");
  // dmm-run refuses such a config before starting anything (exit 2, naming the interface); the shim meets it when
  // the host changed after the check, or when preloaded by hand.
  const Outcome refused = run_dmm(config, probe({"sequence", kBlueServer, kPort, kUserServer0, kPort}));
  EXPECT_TRUE(exited_with(refused, 2));
  EXPECT_NE(refused.err.find("bad.yaml:4:5: stack 'user9': vdev 'net_af_packet9,iface=nope9': interface 'nope9' "
                             "does not exist"),
            std::string::npos)
      << refused.err;
  const Outcome o = run_plain({"env", "LD_PRELOAD=" + preload_library(), "DMM_CONFIG=" + config, "DMM_LOG=" + log_,
                               probe_bin(), "sequence", kBlueServer, kPort, kUserServer0, kPort});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack1"], "blue");
  EXPECT_EQ(facts(o.out)["stack2"], "user0");
  // One warning line, naming the stack and its vdev; the decision log says why user9 was passed over.
  EXPECT_NE(o.err.find("net_af_packet9,iface=nope9"), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  const auto lines = json_lines(read_text(log_));
  ASSERT_EQ(lines.size(), 2u) << read_text(log_);
  EXPECT_EQ(lines[0]["stack"], "blue");
  EXPECT_EQ(lines[0]["fallback_from"], "user9");
  EXPECT_NE(lines[0]["error"].get<std::string>().find("nope9"), std::string::npos) << lines[0].dump();
}

TEST_P(ShimUserSpace, APeerResetReachesTheProgramAsConnectionReset) {
  // The server side resets the connection (SO_LINGER 0): the program's blocking read reports ECONNRESET.
  server_.reset();
  Child resetter = Child::spawn(topo_->in(topo_->srv(), {probe_bin(), "reset-server", kUserServer0, kPort}));
  ASSERT_TRUE(resetter.read_line(std::chrono::seconds(10)).has_value());
  const Outcome o = run_dmm(config_, probe({"tcp", kUserServer0, kPort, "block"}));
  EXPECT_TRUE(exited_with(o, 3));
  EXPECT_EQ(facts(o.out)["error"].rfind("recv:", 0), 0u) << o.out;
  EXPECT_NE(o.out.find("ECONNRESET"), std::string::npos) << o.out;
}

TEST_P(ShimUserSpace, UdpRequestResponseOverAnLwipInstance) {
  // The first sendto decides, and is sent at once (the session is usable at once: no "connecting" for UDP).
  const Outcome o = run_dmm(config_, probe({"udp", kUserServer0, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack"], "user0");
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kUserClient0}));
}

TEST_P(ShimUserSpace, PythonSendfileAndTimeoutsOnAnLwipSession) {
  // socket.sendfile() is sendfile64 in CPython (large-file build); a read with a timeout on a silent session
  // returns (socket.timeout) instead of blocking for ever.
  const std::string file = write_random_file(*dir_, "send.bin", 300000);
  const std::string script = std::string("import socket, hashlib\n") +
                             "s = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "with open('" + file + "', 'rb') as f:\n"
                             "    sent = s.sendfile(f)\n"
                             "got = b''\n"
                             "while len(got) < sent:\n"
                             "    got += s.recv(65536)\n"
                             "print('sent=%d' % sent)\n"
                             "print('same=%d' % (got == open('" + file + "', 'rb').read()))\n"
                             "s.settimeout(0.3)\n"
                             "try:\n"
                             "    s.recv(1)\n"
                             "    print('timeout=0')\n"
                             "except socket.timeout:\n"
                             "    print('timeout=1')\n"
                             "s2 = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "s2.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, bytes(16))\n"
                             "import struct\n"
                             "s2.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack('ll', 0, 200000))\n"
                             "try:\n"
                             "    s2.recv(1)\n"
                             "    print('rcvtimeo=0')\n"
                             "except (BlockingIOError, socket.timeout, OSError) as e:\n"
                             "    print('rcvtimeo=%s' % type(e).__name__)\n";
  const Outcome o = run_dmm(config_, {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("sent"), "300000");
  EXPECT_EQ(f.at("same"), "1");
  EXPECT_EQ(f.at("timeout"), "1");
  EXPECT_EQ(f.at("rcvtimeo"), "BlockingIOError");  // EAGAIN after SO_RCVTIMEO, as from a kernel socket
  EXPECT_GE(occurrences(read_text(log_), "\"stack\":\"user0\""), 2) << read_text(log_);
}

TEST_P(ShimUserSpace, ThreadsBlockedOnTheirOwnSessionsAllGetTheirBytes) {
  // In the program, one blocked thread at a time takes the stack's frames itself (drive_until) while the others
  // wait on their fds: every thread must still be woken with its own bytes, also when the driver's session is
  // quiet and the others' are busy.
  const std::string script = std::string("import socket, threading, os, random\n") +
                             "ok = []\n"
                             "def echo(seed):\n"
                             "    r = random.Random(seed)\n"
                             "    s = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "    for i in range(120):\n"
                             "        data = os.urandom(r.choice([1, 64, 1460, 9000, 70000]))\n"
                             "        s.sendall(data)\n"
                             "        got = b''\n"
                             "        while len(got) < len(data):\n"
                             "            got += s.recv(len(data) - len(got))\n"
                             "        if got != data: return\n"
                             "    s.close()\n"
                             "    ok.append(seed)\n"
                             "def quiet():\n"
                             "    s = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "    s.settimeout(1.5)\n"
                             "    try:\n"
                             "        s.recv(1)\n"
                             "    except socket.timeout:\n"
                             "        ok.append('quiet')\n"
                             "q = threading.Thread(target=quiet)\n"
                             "q.start()\n"
                             "ts = [threading.Thread(target=echo, args=(n,)) for n in range(4)]\n"
                             "for t in ts: t.start()\n"
                             "for t in ts + [q]: t.join()\n"
                             "print('ok=%d' % len(ok))\n";
  const Outcome o = run_dmm(config_, {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0)) << o.err;
  EXPECT_EQ(facts(o.out).at("ok"), "5");
  EXPECT_EQ(occurrences(read_text(log_), "\"stack\":\"user0\""), 5) << read_text(log_);
}

TEST_P(ShimUserSpaceInProgram, ABlockingSendDuringTheHandshakeWaitsWithoutSpinning) {
  // A non-blocking connect to a host that never answers, then the socket made blocking and written to (with a
  // 1 s SO_SNDTIMEO): the send must sleep until the handshake ends or the timeout, not turn the CPU.
  const std::string script = std::string("import socket, struct, time\n") +
                             "s = socket.socket()\n"
                             "s.setblocking(False)\n"
                             "s.connect_ex(('10.232.3.77', 7000))\n"
                             "s.setblocking(True)\n"
                             "s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack('ll', 1, 0))\n"
                             "c0, w0 = time.process_time(), time.monotonic()\n"
                             "try:\n"
                             "    s.send(b'x')\n"
                             "    print('result=sent')\n"
                             "except OSError as e:\n"
                             "    print('result=%s' % type(e).__name__)\n"
                             "print('cpu_ms=%d' % ((time.process_time() - c0) * 1000))\n"
                             "print('wall_ms=%d' % ((time.monotonic() - w0) * 1000))\n";
  const Outcome o = run_dmm(config_, {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0)) << o.err;
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("result"), "BlockingIOError");  // SO_SNDTIMEO expired while connecting: EAGAIN
  EXPECT_GE(std::stoi(f.at("wall_ms")), 900);
  // Asleep: a spinning wait burns about as much CPU as wall time.
  EXPECT_LT(std::stoi(f.at("cpu_ms")), std::stoi(f.at("wall_ms")) / 4) << o.out;
}

TEST_P(ShimUserSpace, UnmodifiedCurlFetchesAFileOverAnLwipInstance) {
  const std::string served = write_random_file(*dir_, "file.bin", 4 << 20);
  Child http = start_http_server(*topo_, topo_->srv(), kUserServer0, dir_->path(), "8080");
  const std::string url = std::string("http://") + kUserServer0 + ":8080/file.bin";
  // Without DMM the client namespace has no route there (the veth it shares with the server has no address).
  const Outcome plain = run_plain({"curl", "-sS", "-o", dir_->file("plain.bin"), url});
  EXPECT_TRUE(exited_with(plain, 7));
  const Outcome o = run_dmm(config_, {"curl", "-sS", "-o", dir_->file("fetched.bin"), url});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(sha256_of(dir_->file("fetched.bin")), sha256_of(served));
  EXPECT_NE(read_text(log_).find("\"stack\":\"user0\""), std::string::npos) << read_text(log_);
}

TEST_P(ShimUserSpace, UnmodifiedIperf3ClientRunsOverAnLwipInstance) {
  Child server = start_iperf3_server(*topo_, topo_->srv(), "5201");
  const Outcome client = run_dmm(config_, {"iperf3", "-c", kUserServer0, "-p", "5201", "-t", "1", "-J"});
  ASSERT_TRUE(exited_with(client, 0));
  const auto report = nlohmann::json::parse(client.out);
  EXPECT_GT(report["end"]["sum_received"]["bytes"].get<double>(), 1e6) << client.out.substr(0, 2000);
  const Outcome served = server.wait(std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(served, 0));
  EXPECT_NE(served.out.find(std::string("Accepted connection from ") + kUserClient0), std::string::npos) << served.out;
  // Control and data connections both went over the lwIP instance.
  const std::string log = read_text(log_);
  EXPECT_GE(occurrences(log, "\"stack\":\"user0\""), 2) << log;
}

}  // namespace
}  // namespace dmm::test
