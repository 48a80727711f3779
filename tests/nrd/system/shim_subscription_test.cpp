// The shim's side of nRD: it reports the sessions it placed (TCP_INFO), and its subscription thread survives
// programs that fork with threads running, without the child keeping the daemon connection.
#include <signal.h>

#include "nrd_system.hpp"

namespace dmm::test {
namespace {

TEST_F(NrdSystemTest, TheShimReportsItsSessionsAsPathSamples) {
  start_daemon(write_nrd_config("algorithm: static\nperiod: 200ms\n", std::nullopt));  // no probes: only the shim
  start_sessions(20, 100'000);  // 100 kB echoes: enough bytes for RTT samples
  ASSERT_TRUE(eventually([&] {
    const auto s = status();
    return s && (*s)["counters"]["samples"].value("orchestrator", 0) >= 10;
  }));
  const auto s = status();
  ASSERT_TRUE(s);
  const auto& stacks = (*s)["stacks"];
  EXPECT_EQ(stacks[0]["stack"], "blue");
  EXPECT_TRUE(stacks[0]["rtt_ms"].is_number()) << s->dump(2);  // the sessions run on blue
  EXPECT_TRUE(stacks[1]["rtt_ms"].is_null()) << s->dump(2);    // nothing ran on red, and nothing probes it
  EXPECT_EQ((*s)["counters"]["samples_unknown_stack"], 0);
  EXPECT_TRUE(exited_with(stop_sessions(), 0));
}

TEST_F(NrdSystemTest, ABackloggedUploadGivesTheDaemonACapacityEstimate) {
  // Issue 12, item 4, on a host: blue's egress is shaped to 16 Mbit/s; a program under dmm-run uploads 8 MB (about
  // 4 s, so the shim's once-a-second walks see the sender backlogged) while a thread drains the echo. dmm-nrd's
  // capacity estimate for blue is then a rate the shaped path carried, and red, unused, has none.
  const Outcome shaped = run({"ip", "netns", "exec", topo_->blue(), "tc", "qdisc", "add", "dev", "v0", "root", "tbf",
                              "rate", "16mbit", "burst", "16kb", "latency", "200ms"},
                             std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(shaped, 0)) << shaped.out;
  start_daemon(write_nrd_config("algorithm: static\nperiod: 200ms\n", std::nullopt));  // no probes: only the shim
  const std::string script = std::string("import socket, threading\n") +
                             "s = socket.create_connection(('" + kBlueServer + "', 7))\n"
                             "data = b'x' * (8 << 20)\n"
                             "got = 0\n"
                             "def drain():\n"
                             "    global got\n"
                             "    while got < len(data):\n"
                             "        b = s.recv(1 << 20)\n"
                             "        if not b: break\n"
                             "        got += len(b)\n"
                             "t = threading.Thread(target=drain)\n"
                             "t.start()\n"
                             "s.sendall(data)\n"
                             "t.join()\n"
                             "s.close()\n"
                             "print('got=%d' % got)\n";
  const Outcome o = run(topo_->in_cli({dmm_run_bin(), "--config", host_config_, "--", "/usr/bin/python3", "-c",
                                       script}),
                        std::chrono::seconds(60));
  ASSERT_TRUE(exited_with(o, 0)) << o.out;
  EXPECT_EQ(facts(o.out)["got"], std::to_string(8 << 20));
  std::optional<nlohmann::json> s;
  ASSERT_TRUE(eventually([&] {
    s = status();
    return s && (*s)["stacks"][0]["capacity_mbps"].is_number();
  })) << (s ? s->dump(2) : "no status");
  const double capacity = (*s)["stacks"][0]["capacity_mbps"].get<double>();
  RecordProperty("capacity_mbps", std::to_string(capacity));
  EXPECT_GT(capacity, 8.0) << s->dump(2);
  EXPECT_LT(capacity, 17.0) << s->dump(2);  // the shaper's rate, not the veth's
  EXPECT_TRUE((*s)["stacks"][1]["capacity_mbps"].is_null()) << s->dump(2);
}

TEST_F(NrdSystemTest, SessionsOnAUserSpaceStackReportTheirSamplesToo) {
  // An lwip-dpdk instance next to blue: its sessions report from lwIP's metrics (bytes, RTT) through the same
  // subscription.
  topo_->add_user_path(0);
  host_config_ = dir_->write("dmm.yaml", "stacks:\n"
                                         "  - {name: blue, kind: kernel, netns: " + topo_->blue() + "}\n"
                                         "  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', "
                                         "address: 10.232.3.2/24}\n"
                                         "policy:\n"
                                         "  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                                         "  - {match: {}, use: [blue]}\n"
                                         "nrd: {socket: nrd.sock}\n");
  start_daemon(write_nrd_config("algorithm: static\nperiod: 200ms\n", std::nullopt));
  EchoServer user_echo(topo_->srv(), {kUserServer0}, 7000);
  // A program that stays a while after its transfer and after closing: what it reports leaves while it lives
  // (what a program still holds for nRD when it exits at once is lost: see backends/preload/README.md).
  const std::string script = std::string("import socket, time\n") +
                             "s = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "data = bytes(range(256)) * 4096\n"
                             "s.sendall(data)\n"
                             "got = 0\n"
                             "while got < len(data):\n"
                             "    got += len(s.recv(65536))\n"
                             "time.sleep(1.5)\n"
                             "s.close()\n"
                             "time.sleep(0.5)\n"
                             "print('got=%d' % got)\n";
  const Outcome o = run(topo_->in_cli({dmm_run_bin(), "--config", host_config_, "--log", decision_log_, "--",
                                       "/usr/bin/python3", "-c", script}),
                        std::chrono::seconds(30));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["got"], "1048576");
  EXPECT_NE(read_text(decision_log_).find("\"stack\":\"user0\""), std::string::npos);
  ASSERT_TRUE(eventually([&] {
    const auto s = status();
    if (!s) return false;
    for (const auto& stack : (*s)["stacks"])
      if (stack["stack"] == "user0" && stack["rtt_ms"].is_number()) return true;
    return false;
  })) << (status() ? status()->dump(2) : "no status");
}

TEST_F(NrdSystemTest, SessionsOnAnInstanceDmmStackdRunsAreReportedByTheDaemon) {
  // The same with `service:`: dmm-stackd runs user0 and reports its sessions' samples to dmm-nrd itself (the
  // program's shim sees no bytes: its fd is the daemon's socket).
  topo_->add_user_path(0);
  host_config_ = dir_->write("dmm.yaml", "stacks:\n"
                                         "  - {name: blue, kind: kernel, netns: " + topo_->blue() + "}\n"
                                         "  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', "
                                         "address: 10.232.3.2/24, netns: " + topo_->cli() + "}\n"
                                         "policy:\n"
                                         "  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                                         "  - {match: {}, use: [blue]}\n"
                                         "nrd: {socket: nrd.sock}\n"
                                         "service: {socket: stackd.sock}\n");
  const StackServicesStopper stop{host_config_};
  start_daemon(write_nrd_config("algorithm: static\nperiod: 200ms\n", std::nullopt));
  EchoServer user_echo(topo_->srv(), {kUserServer0}, 7000);
  const std::string script = std::string("import socket\n") +
                             "s = socket.create_connection(('" + kUserServer0 + "', 7000))\n"
                             "data = bytes(range(256)) * 4096\n"
                             "s.sendall(data)\n"
                             "got = 0\n"
                             "while got < len(data):\n"
                             "    got += len(s.recv(65536))\n"
                             "s.close()\n"
                             "print('got=%d' % got)\n";
  // The program exits at once: the daemon, not the program, reports the session (once more when it ends).
  const Outcome o = run(topo_->in_cli({dmm_run_bin(), "--config", host_config_, "--log", decision_log_, "--",
                                       "/usr/bin/python3", "-c", script}),
                        std::chrono::seconds(30));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["got"], "1048576");
  EXPECT_NE(read_text(decision_log_).find("\"stack\":\"user0\""), std::string::npos);
  ASSERT_TRUE(eventually([&] {
    const auto s = status();
    if (!s) return false;
    for (const auto& stack : (*s)["stacks"])
      if (stack["stack"] == "user0" && stack["rtt_ms"].is_number()) return true;
    return false;
  })) << (status() ? status()->dump(2) : "no status");
}

TEST_F(NrdSystemTest, ForkingWithThreadsNeverHangsUnderASubscription) {
#ifdef DMM_PRELOAD_SANITIZED
  // As in the preload tests: GCC 12's ASan allocator is not fork-safe, and the subscription is a second thread
  // that may hold its lock at the fork (glibc's malloc is fork-safe; this is only true of the sanitizer build).
  GTEST_SKIP() << "ASan's allocator (GCC 12) deadlocks in children forked from multi-threaded processes";
#endif
  start_daemon(write_nrd_config("algorithm: static\n", std::nullopt));
  // Four threads connecting in a loop while the main thread forks ten times; each child connects and echoes.
  const Outcome o = run(topo_->in_cli({dmm_run_bin(), "--config", host_config_, "--", probe_bin(), "threads",
                                       kBlueServer, "7"}),
                        std::chrono::seconds(40));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_NE(o.out.find("threads=ok"), std::string::npos) << o.out;
}

TEST_F(NrdSystemTest, AForkedChildDoesNotKeepTheDaemonConnection) {
#ifdef DMM_PRELOAD_SANITIZED
  // As in the preload tests: GCC 12's ASan allocator is not fork-safe, and the subscription is a second thread
  // that may hold its lock at the fork (glibc's malloc is fork-safe; this is only true of the sanitizer build).
  GTEST_SKIP() << "ASan's allocator (GCC 12) deadlocks in children forked from multi-threaded processes";
#endif
  start_daemon(write_nrd_config("algorithm: static\n", std::nullopt));
  // The parent makes a socket (the shim starts and subscribes), forks a child that lives on for 4 s without
  // exec, and exits. If the child held its copy of the connection, the daemon would still see the peer.
  const std::string script =
      "import os, socket, sys, time\n"
      "s = socket.socket()\n"
      "time.sleep(0.5)\n"  // time to subscribe
      "child = os.fork()\n"
      "if child == 0:\n"
      "    null = os.open('/dev/null', os.O_RDWR)\n"  // let go of the test's pipe; keep nothing else
      "    os.dup2(null, 1)\n"
      "    os.dup2(null, 2)\n"
      "    time.sleep(4)\n"
      "    os._exit(0)\n"
      "print('child=%d' % child, flush=True)\n";
  Child program = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", host_config_, "--", "/usr/bin/python3", "-c",
                                              script}));
  ASSERT_TRUE(wait_for_subscribers(1, std::chrono::seconds(5)));
  const auto line = program.read_line(std::chrono::seconds(5));
  ASSERT_TRUE(line.has_value());
  const pid_t child = std::stoi(facts(*line).at("child"));
  EXPECT_TRUE(exited_with(program.wait(std::chrono::seconds(5)), 0));
  // The parent is gone, its child lives on (for ~3 s more): the daemon must lose its peer all the same.
  EXPECT_TRUE(wait_for_subscribers(0, std::chrono::seconds(2)));
  EXPECT_EQ(::kill(child, 0), 0) << "the child was gone already: the test proved nothing";
}

}  // namespace
}  // namespace dmm::test
