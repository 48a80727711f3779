// The shim races a connect across kernel instances (connect_race.hpp): blue's path goes silent (the server's
// answers to blue's client address are dropped: no error ever comes back), red reaches the same server. Unmodified
// clients under dmm-run — curl, Python with a blocking connect, select, poll, epoll registered after the connect,
// asyncio — get their connection over red within about the attempt delay; with `race: failover` they wait on the
// silent path (the control); with blue healthy nothing races.
#include <chrono>
#include <iostream>

#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

constexpr const char* kPort = "7090";

// The path of the instance whose address is `client` goes silent: the server's answers to that address are dropped
// in srv, nothing comes back (not an ICMP error, not a reset).
::testing::AssertionResult silence(const Topology& topo, const std::string& client) {
  return exited_with(run(topo.in(topo.srv(), {"ip", "route", "add", "blackhole", client + "/32"})), 0);
}

// The decision log's `race` lines: how each race that tried a second stack ended.
std::vector<nlohmann::json> race_lines(const std::string& log) {
  std::vector<nlohmann::json> out;
  for (auto& line : json_lines(read_text(log)))
    if (line["event"] == "race") out.push_back(line);
  return out;
}

class ShimRace : public PreloadTest {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    files_ = std::make_unique<TempDir>();
    files_->write("hello.txt", "hello over the winner\n");
    server_ = std::make_unique<Child>(start_http_server(*topo_, topo_->srv(), kBlueServer, files_->path(), kPort));
  }
  void TearDown() override {
    server_.reset();
    files_.reset();
  }

  void silence_blue() { ASSERT_TRUE(silence(*topo_, kBlueClient)); }
  std::string config(const std::string& race) {
    return write_config("  - {match: {}, use: [blue, red], race: " + race + ", attempt_delay: 200ms}\n");
  }
  std::vector<std::string> client(const std::string& mode) const {
    return {"/usr/bin/python3", test_program("race_client.py"), mode, kBlueServer, kPort, "/hello.txt"};
  }
  std::vector<nlohmann::json> races() const { return race_lines(log_); }

  std::unique_ptr<TempDir> files_;
  std::unique_ptr<Child> server_;
};

double seconds_of(const std::string& text) { return text.empty() ? -1 : std::stod(text); }

// `0.201,0.000,...` as numbers.
std::vector<double> seconds_list(const std::string& text) {
  std::vector<double> out;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t comma = text.find(',', at);
    out.push_back(std::stod(text.substr(at, comma - at)));
    at = comma == std::string::npos ? text.size() : comma + 1;
  }
  return out;
}

// Python: `timed()` connects to blue's server address (a blocking connect) and returns how long that took; with
// `fetch`, it GETs /hello.txt too before it closes.
std::string python_timed_connect(bool fetch) {
  return std::string("def timed():\n") +
         "    t = time.monotonic()\n"
         "    s = socket.create_connection(('" + kBlueServer + "', " + kPort + "))\n"
         "    took = time.monotonic() - t\n" +
         (fetch ? "    s.sendall(b'GET /hello.txt HTTP/1.0\\r\\n\\r\\n')\n"
                  "    while s.recv(65536): pass\n"
                : "") +
         "    s.close()\n"
         "    return took\n";
}

// Python: a blocking connect_ex to address:port, `before` run between socket() and it (options, a timer); prints
// errno=, waited_s= (the connect's wall time) and so_error= (what SO_ERROR holds afterwards).
std::string python_blocking_connect(const std::string& address, const std::string& port,
                                    const std::string& before = "") {
  return "import os, socket, struct, threading, time\n"
         "s = socket.socket()\n" +
         before +
         "t = time.monotonic()\n"
         "err = s.connect_ex(('" + address + "', " + port + "))\n"
         "print(f'errno={err}')\n"
         "print(f'waited_s={time.monotonic() - t:.3f}')\n"
         "print(f'so_error={s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)}')\n";
}

// The times of a process's connects after blue went silent: the first two raced (the attempt delay on blue first),
// then blue looked silent and the others went straight to red.
void expect_two_raced_then_straight_to_red(const std::vector<double>& times, const std::string& out) {
  ASSERT_GE(times.size(), 3u) << out;
  EXPECT_GT(times[0], 0.15) << out;
  EXPECT_GT(times[1], 0.15) << out;
  for (std::size_t i = 2; i < times.size(); ++i) EXPECT_LT(times[i], 0.1) << out;
}

// A line of Python that silences blue from inside the program (as silence() does), mid-run.
std::string python_silencing_blue(const Topology& topo) {
  return "subprocess.run(['ip', 'netns', 'exec', '" + topo.srv() + "', 'ip', 'route', 'add', 'blackhole', '" +
         kBlueClient + "/32'], check=True)\n";
}

TEST_F(ShimRace, CurlGetsItsAnswerOverTheNextInstanceWithinTheAttemptDelay) {
  silence_blue();
  const auto started = std::chrono::steady_clock::now();
  const Outcome o = run_dmm(config("staggered"), {"curl", "-sS", "--max-time", "10", "-o", "-", "-w",
                                                  "\nconnect_s=%{time_connect}\n",
                                                  std::string("http://") + kBlueServer + ":" + kPort + "/hello.txt"});
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_NE(o.out.find("hello over the winner"), std::string::npos) << o.out;
  EXPECT_LT(seconds_of(facts(o.out)["connect_s"]), 1.0) << o.out;
  EXPECT_LT(wall, 5.0);
  const auto lines = races();
  ASSERT_EQ(lines.size(), 1u) << read_text(log_);
  EXPECT_EQ(lines[0]["stack"], "red");
  EXPECT_EQ(lines[0]["race"], "staggered");
  const std::string attempts = lines[0]["attempts"];
  EXPECT_EQ(attempts.rfind("blue:lost;red:ok@2", 0), 0u) << attempts;  // red started ~200 ms in
}

TEST_F(ShimRace, FailoverStillWaitsOnTheSilentPath) {
  silence_blue();
  const Outcome o = run_dmm(config("failover"), {"curl", "-sS", "--connect-timeout", "2", "-o", "/dev/null",
                                                 std::string("http://") + kBlueServer + ":" + kPort + "/hello.txt"});
  EXPECT_EQ(o.exit_code, 28) << o.out << o.err;  // curl: connect timed out — the wait racing removes
  EXPECT_TRUE(races().empty());
}

TEST_F(ShimRace, EveryWayAPythonProgramConnectsGetsTheWinner) {
  silence_blue();
  const std::string cfg = config("staggered");
  for (const char* mode : {"blocking", "select", "poll", "epoll", "asyncio"}) {
    SCOPED_TRACE(mode);
    const Outcome o = run_dmm(cfg, client(mode));
    ASSERT_TRUE(exited_with(o, 0));
    auto f = facts(o.out);
    EXPECT_EQ(f["http_status"], "200");
    const double connect = seconds_of(f["connect_s"]);
    EXPECT_GT(connect, 0.15);  // it did wait the attempt delay on blue first
    EXPECT_LT(connect, 1.0);
  }
  const auto lines = races();
  ASSERT_EQ(lines.size(), 5u) << read_text(log_);
  for (const auto& line : lines) EXPECT_EQ(line["stack"], "red") << line.dump();
}

TEST_F(ShimRace, OptionsSetWhileTheRaceRunsFollowTheWinner) {
  silence_blue();
  const Outcome o = run_dmm(config("staggered"), client("nodelay"));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["nodelay"], "1");  // set on blue's socket while it waited, read back on red's
  ASSERT_EQ(races().size(), 1u) << read_text(log_);
  EXPECT_EQ(races()[0]["stack"], "red");
}

TEST_F(ShimRace, ARefusedConnectionIsReportedAsRefused) {
  // Nothing listens on port 7091 (on either path): blue refuses at once. A non-blocking program reads the refusal
  // of its own first attempt (the racer never takes its SO_ERROR); a blocking one gets the race's last error, red's
  // refusal.
  const Outcome o = run_dmm(config("staggered"), {"/usr/bin/python3", test_program("race_client.py"), "refused",
                                                  kBlueServer, "7091", "-"});
  ASSERT_TRUE(exited_with(o, 0));
  auto f = facts(o.out);
  EXPECT_EQ(f["nonblocking_errno"], "111");
  EXPECT_EQ(f["blocking_errno"], "111");
}

TEST_F(ShimRace, SimultaneousAttemptsOnTwoHealthyInstancesNeverLoseARequest) {
  // Both handshakes finish within microseconds of each other: whichever ends up behind the fd, the request the
  // program sends at once must reach the server and be answered.
  const std::string cfg = write_config("  - {match: {}, use: [blue, red], race: simultaneous}\n");
  const Outcome o = run_dmm(cfg, client("many"));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["ok"], "20");
}

TEST_F(ShimRace, SignalsDuringABlockingRaceActAsOnAKernelConnect) {
  silence_blue();
  const std::string cfg = config("staggered");
  // SA_RESTART: the connect goes on through the signals and returns the winner.
  const Outcome restarted = run_dmm(cfg, probe({"alarm-connect", kBlueServer, kPort, "/hello.txt", "restart"}));
  ASSERT_TRUE(exited_with(restarted, 0));
  EXPECT_EQ(facts(restarted.out)["connect"], "0");
  EXPECT_EQ(facts(restarted.out)["http"], "200");
  // No SA_RESTART: EINTR, and connect() again waits for the same race (not the silent first attempt).
  const Outcome again = run_dmm(cfg, probe({"alarm-connect", kBlueServer, kPort, "/hello.txt", "again"}));
  ASSERT_TRUE(exited_with(again, 0));
  EXPECT_EQ(facts(again.out)["connect"], "0");
  EXPECT_NE(facts(again.out)["eintr"], "0");
  EXPECT_EQ(facts(again.out)["http"], "200");
  for (const auto& line : races()) EXPECT_EQ(line["stack"], "red") << line.dump();
}

TEST_F(ShimRace, ADupDuringABlockingRaceLeavesTheConnectWaitingOnTheFirstAttempt) {
  // Another thread dups the fd while a blocking connect races: the race ends (two fds now share the first attempt),
  // and the connect goes on waiting for that first attempt as a kernel connect would — here until its SO_SNDTIMEO
  // (blue is silent): EINPROGRESS after ~2 s, not an error of the race's own.
  silence_blue();
  const std::string script = python_blocking_connect(
      kBlueServer, kPort,
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack('ll', 2, 0))\n"
      "threading.Timer(0.05, lambda: os.dup(s.fileno())).start()\n");  // before red starts (200 ms)
  const Outcome o = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  auto f = facts(o.out);
  EXPECT_EQ(f["errno"], "115") << o.out << read_text(log_);  // EINPROGRESS
  EXPECT_GT(seconds_of(f["waited_s"]), 1.5) << o.out;
  EXPECT_LT(seconds_of(f["waited_s"]), 4.0) << o.out;
  EXPECT_TRUE(races().empty()) << read_text(log_);  // it ended before red's attempt was due: no second attempt
}

TEST_F(ShimRace, ASocketDupedBeforeItsConnectIsNotRaced) {
  silence_blue();
  const std::string script =
      "import os, socket\n"
      "s = socket.socket()\n"
      "copy = os.dup(s.fileno())\n"
      "s.settimeout(1.0)\n"
      "try:\n"
      "    s.connect(('" + std::string(kBlueServer) + "', " + kPort + "))\n"
      "    print('connected=1')\n"
      "except (TimeoutError, socket.timeout):\n"
      "    print('connected=0')\n";
  const Outcome o = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["connected"], "0");  // both fds stay on blue, which is silent, as without racing
  EXPECT_TRUE(races().empty()) << read_text(log_);
}

TEST_F(ShimRace, AHealthyFirstInstanceNeverStartsASecondAttempt) {
  const std::string cfg = config("staggered");
  for (const char* mode : {"blocking", "select", "asyncio"}) {
    const Outcome o = run_dmm(cfg, client(mode));
    ASSERT_TRUE(exited_with(o, 0)) << mode;
  }
  EXPECT_TRUE(races().empty()) << read_text(log_);
  for (auto& line : json_lines(read_text(log_))) EXPECT_EQ(line["stack"], "blue") << line.dump();
}

TEST_F(ShimRace, ALongRunningProgramStopsPayingTheAttemptDelayOnceBlueLooksSilent) {
  // One process: two GETs while blue is healthy (the racer learns blue's handshake time), then blue goes silent.
  // The first two connects after that race and are carried by red after the attempt delay; blue, unanswered for
  // far more than four of its round trips both times, is marked down by the shim's breaker, and the next connects
  // go straight to red. 5 s later blue gets another chance (the next connect races again).
  const std::string script =
      "import socket, subprocess, time\n" + python_timed_connect(/*fetch=*/true) +
      "timed(); timed()\n" + python_silencing_blue(*topo_) +
      "after = [timed() for _ in range(6)]\n"
      "time.sleep(5.3)\n"
      "retried = timed()\n"
      "print('after=' + ','.join(f'{t:.3f}' for t in after))\n"
      "print(f'retried={retried:.3f}')\n";
  const Outcome o = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  auto f = facts(o.out);
  const std::vector<double> after = seconds_list(f["after"]);
  ASSERT_EQ(after.size(), 6u) << o.out;
  std::cout << "connects after blue went silent (s): " << f["after"] << "; after the retry: " << f["retried"] << "\n";
  expect_two_raced_then_straight_to_red(after, o.out);
  EXPECT_GT(seconds_of(f["retried"]), 0.15) << o.out;  // blue's mark lifted after 5 s: raced again

  std::vector<nlohmann::json> marks;
  for (auto& line : json_lines(read_text(log_)))
    if (line["event"] == "local-health") marks.push_back(line);
  ASSERT_EQ(marks.size(), 2u) << read_text(log_);
  EXPECT_EQ(marks[0]["stack"], "blue");
  EXPECT_EQ(marks[0]["healthy"], false);
  EXPECT_NE(marks[0]["why"].get<std::string>().find("2 set-up failures in a row; the last: no answer within"),
            std::string::npos) << marks[0].dump();
  EXPECT_EQ(marks[1]["healthy"], true);
  EXPECT_EQ(marks[1]["why"], "retry after 5s");
  EXPECT_EQ(races().size(), 3u) << read_text(log_);  // the two before the mark, the one after the retry
}

TEST_F(ShimRace, AForkedChildLearnsFromItsParentsHandshakes) {
  // The parent fetched over blue (the racer measured blue's handshake), then blue went silent and the parent forked.
  // The child has no marks of its parent's (their retry timers stayed in the parent), but knows blue's round trip:
  // its first two connects race and show blue silent, and the next ones go straight to red.
  const std::string script =
      "import os, socket, subprocess, time\n" + python_timed_connect(/*fetch=*/false) +
      "timed(); timed()\n" + python_silencing_blue(*topo_) +
      "pid = os.fork()\n"
      "if pid == 0:\n"
      "    print('child=' + ','.join(f'{timed():.3f}' for _ in range(5)), flush=True)\n"
      "    os._exit(0)\n"
      "os.waitpid(pid, 0)\n";
  const Outcome o = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  const std::vector<double> times = seconds_list(facts(o.out)["child"]);
  ASSERT_EQ(times.size(), 5u) << o.out;
  expect_two_raced_then_straight_to_red(times, o.out);
}

TEST_F(ShimRace, ARaceNobodyWonStrikesNoStack) {
  // A dead destination (10.232.1.77): red's attempts are refused at once by an ICMP unreachable from srv, blue's go
  // unanswered (its answers are dropped). Nobody wins those races, so nothing is learnt against red: its failures
  // say nothing about red when the destination itself may be down. The next connect to the live server still races
  // and is carried by red — had red been marked down, it would sit on silent blue alone.
  silence_blue();
  // srv routes (so that its prohibit route answers with an ICMP error rather than a silent drop).
  ASSERT_TRUE(exited_with(run(topo_->in(topo_->srv(), {"sysctl", "-qw", "net.ipv4.ip_forward=1"})), 0));
  ASSERT_TRUE(exited_with(run(topo_->in(topo_->srv(), {"ip", "route", "add", "prohibit", "10.232.1.77/32"})), 0));
  ASSERT_TRUE(exited_with(run(topo_->in(topo_->blue(), {"ip", "route", "add", "10.232.1.77/32", "via", kBlueServer})), 0));
  const std::string script =
      std::string("import socket, struct, time\n") +
      "for _ in range(3):\n"
      "    s = socket.socket()\n"
      "    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack('ll', 0, 600000))\n"
      "    err = s.connect_ex(('10.232.1.77', " + kPort + "))\n"
      "    print(f'dead_errno={err}')\n"
      "    s.close()\n"
      "time.sleep(0.3)\n"  // the closed sockets' races end (the racer looks every 100 ms)
      "t = time.monotonic()\n"
      "s = socket.create_connection(('" + std::string(kBlueServer) + "', " + kPort + "), timeout=5)\n"
      "print(f'live_connect_s={time.monotonic() - t:.3f}')\n";
  const Outcome o = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  const double live = seconds_of(facts(o.out)["live_connect_s"]);
  EXPECT_GT(live, 0.15) << o.out;  // raced: the attempt delay on blue first
  EXPECT_LT(live, 1.0) << o.out;
  for (auto& line : json_lines(read_text(log_))) EXPECT_NE(line["event"], "local-health") << line.dump();
  const auto lines = races();
  ASSERT_FALSE(lines.empty()) << read_text(log_);
  EXPECT_EQ(lines.back()["stack"], "red") << read_text(log_);
}

TEST_F(ShimRace, AProgramThatClosesItsSmallFdsStillConnects) {
  // The racer's loop (epoll, timerfd, eventfd) sits at high numbers: a program that closes the fds it believes are
  // its own between two connects (os.closerange, a daemon's close loop) does not stop it. (Its fds at 4-6 made the
  // second connect hang in the race's wait.)
  const std::string script =
      std::string("import os, socket\n") +
      "def get():\n"
      "    s = socket.socket()\n"  // blocking: its connect waits for the race's word
      "    s.connect(('" + kBlueServer + "', " + kPort + "))\n"
      "    s.sendall(b'GET /hello.txt HTTP/1.0\\r\\n\\r\\n')\n"
      "    reply = s.recv(100).split(b' ')[1].decode()\n"
      "    s.close()\n"
      "    return reply\n"
      "print('first=' + get())\n"
      "os.closerange(3, 100)\n"
      "print('second=' + get())\n";
  const Outcome o = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["first"], "200");
  EXPECT_EQ(facts(o.out)["second"], "200");
}

TEST_F(ShimRace, AClosedPortBehindASilentFirstStackReadsAsRefusedOnceTheFirstLooksSilent) {
  // Blue silent (never reached by these programs: no RTT, so silent after 1 s), red refuses (nothing listens on
  // 7091). Red is asked again once blue has been silent 1 s, and its refusal goes behind the fd: curl fails as
  // "couldn't connect" (exit 7) within about a second instead of waiting out its connect timeout, and Python reads
  // ECONNREFUSED — blocking, and non-blocking from SO_ERROR after select.
  silence_blue();
  const std::string url = std::string("http://") + kBlueServer + ":7091/";
  const auto started = std::chrono::steady_clock::now();
  const Outcome curl = run_dmm(config("staggered"), {"curl", "-sS", "--connect-timeout", "8", "-o", "/dev/null", url});
  const double curl_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(curl.exit_code, 7) << curl.out << curl.err;
  EXPECT_LT(curl_s, 3.0);
  const Outcome py = run_dmm(config("staggered"), {"/usr/bin/python3", test_program("race_client.py"), "refused",
                                                   kBlueServer, "7091", "-"});
  ASSERT_TRUE(exited_with(py, 0));
  EXPECT_EQ(facts(py.out)["nonblocking_errno"], "111");
  EXPECT_EQ(facts(py.out)["blocking_errno"], "111");
  // A blocking connect reports the refusal once, as connect(2) does: SO_ERROR is clear afterwards.
  const std::string script = python_blocking_connect(kBlueServer, "7091");
  const Outcome once = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(once, 0));
  auto f = facts(once.out);
  EXPECT_EQ(f["errno"], "111") << once.out;
  EXPECT_GT(seconds_of(f["waited_s"]), 0.9) << once.out;  // blue had its second to answer
  EXPECT_LT(seconds_of(f["waited_s"]), 3.0) << once.out;
  EXPECT_EQ(f["so_error"], "0") << once.out;
  const auto lines = races();
  ASSERT_EQ(lines.size(), 4u) << read_text(log_);
  for (const auto& line : lines) {
    EXPECT_TRUE(line["stack"].is_null()) << line.dump();
    EXPECT_NE(line["attempts"].get<std::string>().find("red:refused@"), std::string::npos) << line.dump();
    EXPECT_NE(line["error"].get<std::string>().find("refused on red"), std::string::npos) << line.dump();
  }
}

TEST_F(ShimRace, TheFirstStacksRefusalEndsABlockingRaceOnceTheOthersLookSilent) {
  // Blue refuses (nothing listens on 7091), red is silent: the blocking connect reports blue's refusal once red has
  // had its second (no RTT known for it) — not red's timeout two minutes later — and only once.
  ASSERT_TRUE(silence(*topo_, kRedClient));
  const std::string script = python_blocking_connect(kBlueServer, "7091");
  const Outcome o = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  auto f = facts(o.out);
  EXPECT_EQ(f["errno"], "111") << o.out << read_text(log_);  // ECONNREFUSED
  EXPECT_GT(seconds_of(f["waited_s"]), 0.9) << o.out;
  EXPECT_LT(seconds_of(f["waited_s"]), 3.0) << o.out;
  EXPECT_EQ(f["so_error"], "0") << o.out;
  const auto lines = races();
  ASSERT_EQ(lines.size(), 1u) << read_text(log_);
  EXPECT_EQ(lines[0]["error"], "refused on blue; the others stayed silent") << lines[0].dump();
}

TEST_F(ShimRace, EveryInstanceSilentFailsTheBlockingConnectWithTheLastError) {
  silence_blue();
  // red silent too: its answers to red's client address are dropped as well. The blocking connect races both and
  // returns when the kernel gives up on them; a bounded client (curl) gives up first, with its own timeout.
  ASSERT_TRUE(silence(*topo_, kRedClient));
  const Outcome o = run_dmm(config("staggered"), {"curl", "-sS", "--connect-timeout", "1", "-o", "/dev/null",
                                                  std::string("http://") + kBlueServer + ":" + kPort + "/hello.txt"});
  EXPECT_EQ(o.exit_code, 28) << o.out << o.err;

  // A blocking connect bounded by SO_SNDTIMEO answers EINPROGRESS when it runs out, as the kernel's would.
  const std::string script = python_blocking_connect(
      kBlueServer, kPort, "s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack('ll', 0, 500000))\n");
  const Outcome bounded = run_dmm(config("staggered"), {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(bounded, 0));
  auto f = facts(bounded.out);
  EXPECT_EQ(f["errno"], "115");  // EINPROGRESS
  EXPECT_GT(seconds_of(f["waited_s"]), 0.4);
  EXPECT_LT(seconds_of(f["waited_s"]), 1.5);
}

}  // namespace
}  // namespace dmm::test

namespace dmm::test {
namespace {

// A kernel instance and a user-space (lwip-dpdk) instance, in either order, the instance inside the program (its
// session's application end is what the race watches and puts behind the program's fd) or in dmm-stackd (a
// session of the daemon's, whose end is put there as a placement would put it).
class ShimRaceUserSpace : public PreloadTest, public ::testing::WithParamInterface<UserStacksIn> {
protected:
  void SetUp() override {
    user_stacks_in_ = GetParam();
    PreloadTest::SetUp();
    config_ = write_user_config("  - {match: {}, use: [blue, user0], attempt_delay: 200ms}\n");
    stopper_ = std::make_unique<StackServicesStopper>(StackServicesStopper{config_});
    // blue reaches user0's server address too (srv's own address on the user path).
    ASSERT_TRUE(exited_with(run(topo_->in(topo_->blue(), {"ip", "route", "add", "10.232.3.0/24", "via", kBlueServer})), 0));
    files_ = std::make_unique<TempDir>();
    files_->write("hello.txt", "hello over the winner\n");
    server_ = std::make_unique<Child>(start_http_server(*topo_, topo_->srv(), kUserServer0, files_->path(), "7092"));
  }
  void TearDown() override {
    server_.reset();
    files_.reset();
    stopper_.reset();
  }
  std::vector<nlohmann::json> races() const { return race_lines(log_); }
  // user0 ranked first, blue second (a daemon started for it is stopped at the end).
  std::string user_first_config() {
    const std::string cfg =
        write_user_config("  - {match: {}, use: [user0, blue], attempt_delay: 200ms}\n", "first.yaml");
    stopper_ = std::make_unique<StackServicesStopper>(StackServicesStopper{cfg});
    return cfg;
  }

  // curl and race_client.py in each of `modes` get the file under `cfg`, each in a race `winner` won with a trail
  // starting `attempts` (the loser's outcome, then the winner's start).
  void expect_carried_by(const std::string& cfg, const std::vector<const char*>& modes, const std::string& winner,
                         const std::string& attempts) {
    const std::string url = std::string("http://") + kUserServer0 + ":7092/hello.txt";
    const Outcome curl = run_dmm(cfg, {"curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\nconnect_s=%{time_connect}\n", url});
    ASSERT_TRUE(exited_with(curl, 0));
    EXPECT_NE(curl.out.find("hello over the winner"), std::string::npos) << curl.out;
    EXPECT_LT(std::stod(facts(curl.out)["connect_s"]), 1.5) << curl.out;
    std::cout << "curl connected over " << winner << " in " << facts(curl.out)["connect_s"] << " s\n";
    for (const char* mode : modes) {
      SCOPED_TRACE(mode);
      const Outcome o = run_dmm(cfg, {"/usr/bin/python3", test_program("race_client.py"), mode, kUserServer0, "7092",
                                      "/hello.txt"});
      ASSERT_TRUE(exited_with(o, 0));
      EXPECT_EQ(facts(o.out)["http_status"], "200");
    }
    const auto lines = races();
    ASSERT_EQ(lines.size(), 1u + modes.size()) << read_text(log_);
    for (const auto& line : lines) {
      EXPECT_EQ(line["stack"], winner) << line.dump();
      EXPECT_EQ(line["attempts"].get<std::string>().rfind(attempts, 0), 0u) << line.dump();
    }
  }

  std::string config_;
  std::unique_ptr<StackServicesStopper> stopper_;
  std::unique_ptr<TempDir> files_;
  std::unique_ptr<Child> server_;
};

INSTANTIATE_TEST_SUITE_P(Modes, ShimRaceUserSpace, ::testing::Values(UserStacksIn::program, UserStacksIn::service),
                         [](const auto& info) { return to_string(info.param); });

TEST_P(ShimRaceUserSpace, ASilentKernelInstanceLosesToAUserSpaceInstance) {
  ASSERT_TRUE(silence(*topo_, kBlueClient));
  expect_carried_by(config_, {"blocking", "select", "poll", "epoll", "asyncio"}, "user0", "blue:lost;user0:ok@");
}

TEST_P(ShimRaceUserSpace, ASilentUserSpaceInstanceLosesToAKernelInstance) {
  // Now the lwIP instance is ranked first and goes silent (the server's answers to its address are dropped): its
  // session is the first attempt, blue's socket wins and replaces the session's end behind the program's fd.
  const std::string cfg = user_first_config();
  ASSERT_TRUE(silence(*topo_, kUserClient0));
  expect_carried_by(cfg, {"blocking", "select", "poll", "epoll", "asyncio"}, "blue", "user0:lost;blue:ok@");
}

TEST_P(ShimRaceUserSpace, OptionsSetWhileTheRaceRunsFollowTheWinnerEitherWay) {
  // TCP_NODELAY set right after connect_ex (as libuv does), while the first attempt waits on its silent path, is
  // read back on the winner: a user session's option on blue's kernel socket, and a kernel socket's on user0's.
  const auto nodelay = [&](const std::string& cfg) {
    const Outcome o = run_dmm(cfg, {"/usr/bin/python3", test_program("race_client.py"), "nodelay", kUserServer0,
                                    "7092", "/hello.txt"});
    EXPECT_TRUE(exited_with(o, 0));
    return facts(o.out)["nodelay"];
  };
  ASSERT_TRUE(silence(*topo_, kBlueClient));
  EXPECT_EQ(nodelay(config_), "1");
  ASSERT_TRUE(exited_with(run(topo_->in(topo_->srv(), {"ip", "route", "del", "blackhole", std::string(kBlueClient) + "/32"})), 0));
  ASSERT_TRUE(silence(*topo_, kUserClient0));
  const std::string cfg = user_first_config();
  EXPECT_EQ(nodelay(cfg), "1");
  const auto lines = races();
  ASSERT_EQ(lines.size(), 2u) << read_text(log_);
  EXPECT_EQ(lines[0]["stack"], "user0");
  EXPECT_EQ(lines[1]["stack"], "blue");
}

TEST_P(ShimRaceUserSpace, AUserSpaceSocketThatIsNotRacedConnectsAsWithoutRacing) {
  // A socket dup'ed before its connect is not raced: its connect is the session's own (blocking: it waits for the
  // handshake), not a kernel connect on the fd (which is a session's end, not an inet socket).
  const std::string cfg = user_first_config();
  const std::string script =
      "import os, socket\n"
      "s = socket.socket()\n"
      "copy = os.dup(s.fileno())\n"
      "s.connect(('" + std::string(kUserServer0) + "', 7092))\n"
      "s.sendall(b'GET /hello.txt HTTP/1.0\\r\\n\\r\\n')\n"
      "print('reply=' + s.recv(100).split(b' ')[1].decode())\n";
  const Outcome o = run_dmm(cfg, {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["reply"], "200");
  EXPECT_TRUE(races().empty()) << read_text(log_);
}

TEST_P(ShimRaceUserSpace, SignalsAndTimeoutsOfABlockingConnectActAsOnAKernelConnect) {
  // user0 first and silent: connect() interrupted by a signal without SA_RESTART answers EINTR, and connect()
  // again waits for the same race, which blue wins.
  const std::string cfg = user_first_config();
  ASSERT_TRUE(silence(*topo_, kUserClient0));
  const Outcome again = run_dmm(cfg, probe({"alarm-connect", kUserServer0, "7092", "/hello.txt", "again"}));
  ASSERT_TRUE(exited_with(again, 0));
  EXPECT_EQ(facts(again.out)["connect"], "0");
  EXPECT_NE(facts(again.out)["eintr"], "0");
  EXPECT_EQ(facts(again.out)["http"], "200");
  // Both silent: a blocking connect bounded by SO_SNDTIMEO (set on the user session) answers EINPROGRESS when it
  // runs out, as the kernel's would.
  ASSERT_TRUE(silence(*topo_, kBlueClient));
  const std::string script = python_blocking_connect(
      kUserServer0, "7092", "s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack('ll', 0, 500000))\n");
  const Outcome bounded = run_dmm(cfg, {"/usr/bin/python3", "-c", script});
  ASSERT_TRUE(exited_with(bounded, 0)) << read_text(log_);
  auto f = facts(bounded.out);
  EXPECT_EQ(f["errno"], "115");  // EINPROGRESS
  EXPECT_GT(std::stod(f["waited_s"]), 0.4);
  EXPECT_LT(std::stod(f["waited_s"]), 1.5);
  const auto lines = races();
  ASSERT_GE(lines.size(), 1u) << read_text(log_);
  EXPECT_EQ(lines[0]["stack"], "blue");
}

}  // namespace
}  // namespace dmm::test
