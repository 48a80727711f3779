// dmm-stackd as a program: its command line and exit codes (0 on SIGTERM/SIGINT, 2 bad config or usage, 3 socket
// taken or namespace missing), and the whole point end to end — a worker that dropped to uid 65534 (forked off
// this test, in a test-made namespace with only lo) cannot setns into the stack's namespace, asks the daemon, gets a
// socket there that is its own, and talks to a server over the stack's veth; a uid that is not allowed is refused
// with EACCES naming the config key; garbage from one peer does not disturb another.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "dmm/service/stack_service_client.hpp"
#include "netns_lab.hpp"
#include "service_harness.hpp"
#include "subprocess.hpp"

namespace dmm::test {
namespace {

using namespace std::chrono_literals;
using service::StackServiceClient;

constexpr const char* kServer = "10.231.78.1";

std::string stackd() { return DMM_STACKD_BIN; }

bool exited_with(const Outcome& o, int code) { return o.finished && o.exit_code == code; }

class StackdProgram : public ::testing::Test {
protected:
  void SetUp() override {
    auto cli = lab_.add_namespace();
    auto blue = lab_.add_namespace();
    auto srv = lab_.add_namespace();
    ASSERT_TRUE(cli && blue && srv);
    cli_ = *cli;
    blue_ = *blue;
    srv_ = *srv;
    config_ = dir_.write("dmm.yaml",
                         "stacks:\n"
                         "  - {name: host, kind: kernel}\n"
                         "  - {name: blue, kind: kernel, netns: " + blue_ + ", allow: {users: [nobody]}}\n"
                         "policy:\n"
                         "  - {match: {}, use: [blue, host]}\n"
                         "service: {socket: stackd.sock}\n"
                         "log: {level: debug}\n");
    socket_ = dir_.file("stackd.sock");
  }

  // Starts dmm-stackd and waits until it answers.
  Child start_daemon() {
    Child daemon = Child::spawn({stackd(), "--config", config_});
    EXPECT_TRUE(eventually([&] { return StackServiceClient::connect(socket_, 1s).ok(); })) << "dmm-stackd did not come up";
    return daemon;
  }

  // As uid 65534 in cli: a TCP socket of stack blue from the daemon. "uid=N" (its owner) if granted, else the
  // errno's name and the daemon's words.
  std::string blue_socket_as_nobody() {
    const std::string socket = socket_;
    return run_as({65534, 65534, {}, cli_}, [&]() -> std::string {
      auto c = StackServiceClient::connect(socket, 5s);
      if (!c) return "connect: " + c.error().message;
      auto fds = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
      if (!fds) return std::string(strerrorname_np(fds.error().code)) + " " + fds.error().message;
      struct stat st {};
      ::fstat((*fds)[0].get(), &st);
      return "uid=" + std::to_string(st.st_uid);
    });
  }

  NetnsLab lab_;
  std::string cli_, blue_, srv_;
  TempDir dir_;
  std::string config_, socket_;
};

TEST_F(StackdProgram, HelpAndUsage) {
  const Outcome help = run({stackd(), "--help"});
  ASSERT_TRUE(exited_with(help, 0));
  EXPECT_NE(help.out.find("Usage: dmm-stackd --config dmm.yaml [--check]"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("Exit codes"), std::string::npos);
  EXPECT_TRUE(exited_with(run({stackd()}), 2));
  EXPECT_TRUE(exited_with(run({stackd(), "--bogus"}), 2));
  EXPECT_TRUE(exited_with(run({stackd(), "--config"}), 2));
}

TEST_F(StackdProgram, BadConfigIsTwoWithItsLocationAndCheckSaysWhatItServes) {
  const std::string bad = dir_.write("bad.yaml",
                                     "stacks: [{name: b, kind: kernel, netns: b, allow: {users: [dmm-nobody-here]}}]\n"
                                     "policy: [{match: {}, use: [b]}]\nservice: {socket: s.sock}\n");
  const Outcome o = run({stackd(), "--config", bad});
  ASSERT_TRUE(exited_with(o, 2)) << o.err;
  EXPECT_EQ(o.err.rfind("dmm-stackd: " + bad + ":1:60: stacks.b.allow.users.0: unknown user 'dmm-nobody-here'", 0), 0u)
      << o.err;
  const std::string bad_mode = dir_.write("mode.yaml", "stacks: [{name: b, kind: kernel}]\npolicy: [{match: {}, use: [b]}]\n"
                                                       "service: {socket: s.sock, mode: rw}\n");
  const Outcome m = run({stackd(), "--config", bad_mode});
  ASSERT_TRUE(exited_with(m, 2));
  EXPECT_NE(m.err.find(bad_mode + ":3:33: service.mode: 'rw' is not a file mode"), std::string::npos) << m.err;
  const std::string without = dir_.write("without.yaml", "stacks: [{name: b, kind: kernel}]\npolicy: [{match: {}, use: [b]}]\n");
  const Outcome w = run({stackd(), "--config", without});
  ASSERT_TRUE(exited_with(w, 2));
  EXPECT_NE(w.err.find(without + ":1:1: no `service:` section"), std::string::npos) << w.err;
  EXPECT_TRUE(exited_with(run({stackd(), "--config", dir_.file("absent.yaml")}), 2));

  const Outcome check = run({stackd(), "--config", config_, "--check"});
  ASSERT_TRUE(exited_with(check, 0)) << check.err;
  EXPECT_EQ(check.out, "config ok: 1 of 2 stacks served, socket " + socket_ + " mode 0666\n");
  EXPECT_NE(::access(socket_.c_str(), F_OK), 0) << "--check must not listen";
}

TEST_F(StackdProgram, CheckLooksAtTheHostToo) {
  // The config is well formed, but its namespace does not exist on this host: --check says so where it is written.
  const std::string absent = dir_.write("absent-ns.yaml", "stacks:\n  - {name: host, kind: kernel}\n"
                                                          "  - {name: gone, kind: kernel, netns: dmm-no-such-ns-here}\n"
                                                          "policy: [{match: {}, use: [host]}]\nservice: {socket: s.sock}\n");
  const Outcome o = run({stackd(), "--config", absent, "--check"});
  ASSERT_TRUE(exited_with(o, 2)) << o.out << o.err;
  EXPECT_EQ(o.err.rfind("dmm-stackd: " + absent + ":3:", 0), 0u) << o.err;
  EXPECT_NE(o.err.find("dmm-no-such-ns-here"), std::string::npos) << o.err;
}

TEST_F(StackdProgram, AnEditedConfigIsServedWithoutARestartAndABrokenEditIsNot) {
  const auto config_allowing = [&](const std::string& who) {
    // Written next to the old one and renamed over it, as editors save.
    const std::string next = dir_.write("next.yaml",
                                        "stacks:\n"
                                        "  - {name: host, kind: kernel}\n"
                                        "  - {name: blue, kind: kernel, netns: " + blue_ + ", allow: {users: [" + who + "]}}\n"
                                        "policy:\n  - {match: {}, use: [blue, host]}\n"
                                        "service: {socket: stackd.sock}\nlog: {level: debug}\n");
    EXPECT_EQ(::rename(next.c_str(), config_.c_str()), 0);
  };
  config_allowing("root");
  Child daemon = start_daemon();
  EXPECT_EQ(blue_socket_as_nobody().rfind("EACCES ", 0), 0u);
  config_allowing("nobody");
  EXPECT_TRUE(eventually([&] { return blue_socket_as_nobody() == "uid=65534"; }, 8s));
  // An edit that does not load leaves the daemon serving what it had.
  const std::string broken = dir_.write("broken.yaml", "stacks: [{name: blue, kind: kernel, netns: \n");
  ASSERT_EQ(::rename(broken.c_str(), config_.c_str()), 0);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(blue_socket_as_nobody(), "uid=65534");
  ::kill(daemon.pid(), SIGTERM);
  const Outcome o = daemon.wait(10s);
  ASSERT_TRUE(exited_with(o, 0)) << o.err;
  EXPECT_NE(o.err.find("event=config_reloaded"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("event=config_invalid error=\"" + config_ + ":"), std::string::npos) << o.err;
}

TEST_F(StackdProgram, RuntimeFailuresAreThree) {
  const std::string missing = dir_.write("missing.yaml",
                                         "stacks: [{name: gone, kind: kernel, netns: dmms-no-such-namespace}]\n"
                                         "policy: [{match: {}, use: [gone]}]\nservice: {socket: m.sock}\n");
  const Outcome gone = run({stackd(), "--config", missing});
  ASSERT_TRUE(exited_with(gone, 3)) << gone.err;
  EXPECT_NE(gone.err.find("stack 'gone': network namespace 'dmms-no-such-namespace' does not exist"), std::string::npos)
      << gone.err;

  Child daemon = start_daemon();
  const Outcome second = run({stackd(), "--config", config_});
  ASSERT_TRUE(exited_with(second, 3)) << second.err;
  EXPECT_NE(second.err.find(socket_ + ": another daemon is listening there"), std::string::npos) << second.err;
  // The first one still serves.
  auto c = StackServiceClient::connect(socket_, 2s);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1).ok());
}

TEST_F(StackdProgram, SigtermAndSigintStopItWithZeroAndRemoveTheSocket) {
  for (int signal : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(signal);
    Child daemon = start_daemon();
    ASSERT_EQ(::kill(daemon.pid(), signal), 0);
    const Outcome o = daemon.wait(10s);
    ASSERT_TRUE(exited_with(o, 0)) << o.exit_code << " " << o.err;
    EXPECT_NE(o.err.find("event=started socket=" + socket_), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("event=stopped signal=" + std::to_string(signal)), std::string::npos) << o.err;
    EXPECT_NE(::access(socket_.c_str(), F_OK), 0) << "socket file left behind";
  }
}

// A stale socket file (its daemon was SIGKILLed) does not stop the next start.
TEST_F(StackdProgram, ARestartAfterSigkillReplacesTheStaleSocket) {
  {
    Child first = start_daemon();
    first.kill_group();
    first.wait(5s);
  }
  ASSERT_EQ(::access(socket_.c_str(), F_OK), 0) << "SIGKILL leaves the file";
  Child second = start_daemon();
  auto c = StackServiceClient::connect(socket_, 2s);
  ASSERT_TRUE(c.ok()) << c.error().message;
}

// What the daemon needs of root: CAP_SYS_ADMIN (setns), CAP_SETUID and CAP_SETGID (setfsuid/setfsgid), nothing more
// (the README's unit limits it to these). Without CAP_SETUID it refuses to make a socket as anyone but root,
// rather than make it as root.
TEST_F(StackdProgram, ThreeCapabilitiesAreEnoughAndWithoutSetuidItRefuses) {
  for (const std::string& caps : {std::string("+sys_admin,+setuid,+setgid"), std::string("+sys_admin,+setgid")}) {
    SCOPED_TRACE(caps);
    Child daemon = Child::spawn({"setpriv", "--bounding-set=-all," + caps, "--inh-caps=-all", stackd(), "--config",
                                 config_});
    ASSERT_TRUE(eventually([&] { return StackServiceClient::connect(socket_, 1s).ok(); }));
    const std::string said = blue_socket_as_nobody();
    if (caps.find("setuid") != std::string::npos) {
      EXPECT_EQ(said, "uid=65534");
    } else {
      EXPECT_EQ(said.rfind("EPERM dmm-stackd: socket_failed: cannot make sockets as uid 65534", 0), 0u) << said;
    }
    ::kill(daemon.pid(), SIGTERM);
    EXPECT_TRUE(exited_with(daemon.wait(10s), 0));
  }
}

TEST_F(StackdProgram, AWorkerThatDroppedRootConnectsThroughTheService) {
  ASSERT_TRUE(lab_.link(blue_, "10.231.78.2/24", srv_, "10.231.78.1/24").ok());
  auto echo = EchoServer::start(srv_, kServer);
  ASSERT_TRUE(echo.ok()) << echo.error().message;
  const std::uint16_t port = (*echo)->port();
  Child daemon = start_daemon();

  const std::string blue = blue_;
  const std::string socket = socket_;
  const std::string said = run_as({65534, 65534, {}, cli_}, [&]() -> std::string {
    std::string out;
    // The worker's own way fails: it may not enter the namespace.
    kernel::UniqueFd ns(::open(netns_path(blue).c_str(), O_RDONLY | O_CLOEXEC));
    out += ns && ::setns(ns.get(), CLONE_NEWNET) == 0 ? "setns=ok" : std::string("setns=") + strerrorname_np(errno);
    // And a plain socket of its own namespace has no route to the server (only lo here).
    kernel::UniqueFd own(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    out += " own=" + echo_through(own.get(), kServer, port, "x");
    auto c = StackServiceClient::connect(socket, 5s);
    if (!c) return out + " connect: " + c.error().message;
    auto fds = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
    if (!fds) return out + " sockets: " + fds.error().message;
    struct stat st {};
    ::fstat((*fds)[0].get(), &st);
    out += " uid=" + std::to_string(st.st_uid);
    out += " echo=" + echo_through((*fds)[0].get(), kServer, port, "hello from a worker");
    auto unknown = c->sockets("purple", AF_INET, SOCK_STREAM, 0, 1);
    out += std::string(" unknown=") + (unknown ? "granted" : strerrorname_np(unknown.error().code));
    auto raw = c->sockets("blue", AF_INET, SOCK_RAW, IPPROTO_RAW, 1);
    out += std::string(" raw=") + (raw ? "granted" : strerrorname_np(raw.error().code));
    return out;
  });
  EXPECT_EQ(said, "setns=EPERM own=connect: Network is unreachable uid=65534 echo=ok unknown=ENOENT raw=EINVAL");

  const std::string refused = run_as({1000, 1000, {}, cli_}, [&]() -> std::string {
    auto c = StackServiceClient::connect(socket, 5s);
    if (!c) return "connect: " + c.error().message;
    auto fds = c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1);
    return fds ? "granted" : std::string(strerrorname_np(fds.error().code)) + " " + fds.error().message;
  });
  EXPECT_EQ(refused.rfind("EACCES dmm-stackd: not_allowed: uid 1000 (gid 1000) may not use stack 'blue'", 0), 0u)
      << refused;
  EXPECT_NE(refused.find("stacks.blue.allow.users"), std::string::npos) << refused;
  EXPECT_NE(refused.find(config_ + ":3:"), std::string::npos) << refused;

  // Garbage on one connection; the next client is served as before.
  auto hostile = RawPeer::connect(socket_);
  ASSERT_TRUE(hostile.ok());
  ASSERT_TRUE(hostile->send(std::string(100, '\xff')).ok());
  EXPECT_TRUE(hostile->closed_by_daemon());
  auto c = StackServiceClient::connect(socket_, 2s);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->sockets("blue", AF_INET, SOCK_STREAM, 0, 1).ok());

  ::kill(daemon.pid(), SIGTERM);
  const Outcome o = daemon.wait(10s);
  ASSERT_TRUE(exited_with(o, 0)) << o.err;
  EXPECT_NE(o.err.find("event=hello"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("uid=65534"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("event=request_refused"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("reason=not_allowed"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("reason=bad_magic"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace dmm::test
