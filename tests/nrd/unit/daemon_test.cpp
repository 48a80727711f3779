// The daemon in-process: subscriptions, pushes, samples, restarts, and hostile or slow peers. One event loop runs
// the daemon and its clients; every wait is a spin of that loop until the awaited state holds, with a deadline.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "daemon_harness.hpp"
#include "dmm/nrd/socket_ops.hpp"

using namespace std::chrono_literals;
using namespace dmm;
using namespace dmm::nrd;
using dmm::test::DaemonHarness;
using dmm::test::RawPeer;

namespace {

std::string header(std::uint8_t version, std::uint8_t type, std::uint32_t length) {
  std::string h{'D', 'N', static_cast<char>(version), static_cast<char>(type)};
  for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<char>((length >> shift) & 0xff));
  return h;
}

std::uint64_t rejected(const NrdDaemon& d, const std::string& reason) {
  const auto& m = d.counters().messages_rejected;
  const auto it = m.find(reason);
  return it == m.end() ? 0 : it->second;
}

std::uint64_t count_of(const std::map<std::string, std::uint64_t>& m, const std::string& key) {
  const auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

TEST(Daemon, SubscribersGetThePolicyInForceThenEveryVersionInOrder) {
  DaemonHarness h;
  NrdDaemon& d = h.start();
  auto one = h.subscriber("one");
  auto two = h.subscriber("two");
  std::vector<PolicyVersion> seen;
  one.client->on_policy = [&](const Policy& p, const Status&) { seen.push_back(p.version); };
  ASSERT_TRUE(h.spin([&] { return d.subscribers() == 2; }));
  for (int i = 0; i < 3; ++i) d.nrd().publish_now(i % 2 ? test::host_policy() : test::reversed_policy());
  ASSERT_TRUE(h.spin([&] { return one.orchestrator->version() == 4 && two.orchestrator->version() == 4; }));
  EXPECT_EQ(seen, (std::vector<PolicyVersion>{1, 2, 3, 4}));  // the version in force first, then each new one
  EXPECT_EQ(one.client->counters().stale, 1u);                  // version 1: the orchestrator had it already
  EXPECT_EQ(one.client->counters().applied, 3u);
  EXPECT_EQ(one.orchestrator->policy()->rules[0].use, (std::vector<StackId>{"b", "a"}));
}

TEST(Daemon, DmmCtlPushesStatusAndWatches) {
  DaemonHarness h;
  NrdDaemon& d = h.start();
  auto sub = h.subscriber("sub");
  auto ctl = h.ctl("ctl");
  std::optional<PushResult> result;
  std::optional<nlohmann::json> status;
  ctl->on_reply = [&](Message& m) {
    if (auto* r = std::get_if<PushResult>(&m)) result = *r;
    if (auto* s = std::get_if<StatusMessage>(&m)) status = s->body;
  };
  ASSERT_TRUE(h.spin([&] { return ctl->welcomed() && d.subscribers() == 1; }));
  ASSERT_TRUE(ctl->send(PushPolicy{test::reversed_policy()}).ok());
  ASSERT_TRUE(h.spin([&] { return result.has_value(); }));
  EXPECT_TRUE(result->accepted) << result->message;
  EXPECT_EQ(result->version, 2u);
  ASSERT_TRUE(h.spin([&] { return sub.orchestrator->version() == 2; }));
  EXPECT_NE(sub.orchestrator->policy()->reason.find("pushed by dmm-ctl (unix pid="), std::string::npos);

  // A policy naming a stack the host does not have is refused, with the reason, and nothing is published.
  Policy bad = test::host_policy();
  bad.rules[0].use = {"zz"};
  result.reset();
  ASSERT_TRUE(ctl->send(PushPolicy{bad}).ok());
  ASSERT_TRUE(h.spin([&] { return result.has_value(); }));
  EXPECT_FALSE(result->accepted);
  EXPECT_NE(result->message.find("unknown stack 'zz'"), std::string::npos) << result->message;
  EXPECT_EQ(d.nrd().current().version, 2u);
  EXPECT_EQ(d.counters().pushes_rejected, 1u);

  ASSERT_TRUE(ctl->send(StatusRequest{}).ok());
  ASSERT_TRUE(h.spin([&] { return status.has_value(); }));
  EXPECT_EQ((*status)["policy"]["version"], 2);
  EXPECT_EQ((*status)["subscribers"], 1);
  EXPECT_EQ((*status)["stacks"].size(), 2u);
  bool found = false;
  for (const auto& p : (*status)["peers"]) found = found || (p["name"] == "sub" && p["subscribed"] == true);
  EXPECT_TRUE(found) << status->dump();

  auto watcher = h.ctl("watch", /*watch=*/true);
  std::vector<nlohmann::json> decisions;
  watcher->on_decision = [&](const nlohmann::json& j) { decisions.push_back(j); };
  ASSERT_TRUE(h.spin([&] { return decisions.size() >= 3; }));
  EXPECT_EQ(decisions[1]["period"].get<int>(), decisions[0]["period"].get<int>() + 1);
  EXPECT_EQ(decisions[0]["estimates"].size(), 2u);
  EXPECT_TRUE(decisions[0].contains("monotonic_s"));
}

TEST(Daemon, SamplesFromOrchestratorsMoveTheEstimates) {
  DaemonHarness h;
  NrdDaemon& d = h.start();
  auto sub = h.subscriber("sub");
  ASSERT_TRUE(h.spin([&] { return sub.client->welcomed(); }));
  sub.client->on_sample({.stack = "b", .rtt = 7ms});
  sub.client->on_sample({.stack = "zz", .rtt = 1ms});  // a stack the daemon does not know: counted, ignored
  ASSERT_TRUE(h.spin([&] { return d.nrd().estimates()[1].has_rtt; }));
  EXPECT_EQ(d.nrd().estimates()[1].rtt, 7ms);
  EXPECT_FALSE(d.nrd().estimates()[0].has_rtt);
  EXPECT_EQ(count_of(d.counters().samples, "orchestrator"), 1u);
  EXPECT_EQ(d.counters().samples_unknown_stack, 1u);
}

TEST(Daemon, SubscribersHearItsRttEstimatesForAttemptDelayAuto) {
  DaemonHarness h;
  NrdDaemon& d = h.start();
  auto sub = h.subscriber("sub");
  ASSERT_TRUE(h.spin([&] { return sub.client->welcomed(); }));
  sub.client->on_sample({.stack = "b", .rtt = 7ms});
  ASSERT_TRUE(h.spin([&] { return d.nrd().estimates()[1].has_rtt; }));
  // The next heartbeat (every second) carries it to the subscriber's orchestrator; `a` has none.
  ASSERT_TRUE(h.spin([&] { return sub.orchestrator->rtt_estimate(1).has_value(); }, 3s));
  EXPECT_EQ(sub.orchestrator->rtt_estimate(1)->rtt, 7ms);
  EXPECT_FALSE(sub.orchestrator->rtt_estimate(0));
  // Without the daemon there is no fresh estimate: the orchestrator forgets them (auto falls back to 250 ms).
  sub.client->stop();
  EXPECT_FALSE(sub.orchestrator->rtt_estimate(1));
}

struct Hostile {
  const char* name;
  std::function<void(RawPeer&)> act;
  const char* reason;  // counted under messages_rejected
};

class HostileInput : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileInput, IsRejectedCountedAndTheOthersAreStillServed) {
  DaemonHarness h;
  NrdDaemon& d = h.start();
  auto good = h.subscriber("good");
  ASSERT_TRUE(h.spin([&] { return d.subscribers() == 1; }));
  RawPeer raw = RawPeer::unix_socket(h.socket_path());
  GetParam().act(raw);
  ASSERT_TRUE(h.spin([&] { return rejected(d, GetParam().reason) == 1; })) << GetParam().name;
  // The hostile peer hears why, then the daemon closes on it.
  ASSERT_TRUE(h.spin([&] { return raw.read_available(); }));
  const auto messages = raw.messages();
  ASSERT_FALSE(messages.empty()) << "no error message";
  const auto* error = std::get_if<ErrorMessage>(&messages.back());
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->reason, GetParam().reason);
  EXPECT_FALSE(error->message.empty());
  // The daemon is up and the others are served.
  d.nrd().publish_now(test::reversed_policy());
  ASSERT_TRUE(h.spin([&] { return good.orchestrator->version() == 2; }));
  EXPECT_EQ(d.peers(), 1u);
  const std::string metrics = d.metrics_text();
  EXPECT_NE(metrics.find(std::string("dmm_nrd_messages_rejected_total{reason=\"") + GetParam().reason + "\"} 1"),
            std::string::npos)
      << metrics;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HostileInput,
    ::testing::Values(
        Hostile{"garbage", [](RawPeer& p) { p.send("GET / HTTP/1.0\r\n\r\n"); }, "bad_magic"},
        Hostile{"wrong_version", [](RawPeer& p) { p.send(header(7, 1, 2) + "{}"); }, "wrong_version"},
        Hostile{"oversized", [](RawPeer& p) { p.send(header(1, 4, 64u << 20)); }, "oversized"},
        Hostile{"unknown_type", [](RawPeer& p) { p.send(header(1, 99, 2) + "{}"); }, "unknown_type"},
        Hostile{"not_json", [](RawPeer& p) { p.send(header(1, 1, 5) + "{role"); }, "malformed"},
        Hostile{"hello_without_role", [](RawPeer& p) { p.send(header(1, 1, 2) + "{}"); }, "malformed"},
        Hostile{"samples_before_hello",
                [](RawPeer& p) { p.send(encode(Samples{{PathSample{.stack = "a", .rtt = 1ms}}})); }, "unexpected"},
        Hostile{"policy_from_a_client",
                [](RawPeer& p) {
                  p.send(test::hello_frame(false));
                  p.send(encode(PolicyMessage{test::reversed_policy()}));
                },
                "unexpected"},
        Hostile{"second_hello",
                [](RawPeer& p) {
                  p.send(test::hello_frame(false));
                  p.send(test::hello_frame(false));
                },
                "unexpected"},
        Hostile{"push_by_an_orchestrator",
                [](RawPeer& p) {
                  p.send(test::hello_frame(false));
                  p.send(encode(PushPolicy{test::reversed_policy()}));
                },
                "not_allowed"},
        Hostile{"truncated",
                [](RawPeer& p) {
                  p.send(test::hello_frame(false));
                  const std::string f = encode(Heartbeat{1, 0, 0});
                  p.send(f.substr(0, f.size() - 3));
                  p.shutdown_write();
                },
                "truncated"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Daemon, APeerWhoseUidIsNotAllowedIsRefused) {
  DaemonHarness h;
  // World-accessible socket, so that only SO_PEERCRED stands between `nobody` and the daemon.
  ::chmod(h.dir().path().c_str(), 0755);
  NrdDaemon& d = h.start("listen: {unix: nrd.sock, mode: '0666', allow_uids: [0]}\n");
  auto good = h.subscriber("good");
  ASSERT_TRUE(h.spin([&] { return d.subscribers() == 1; }));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // nobody:nogroup. Exit 0 iff the daemon refused us with uid_not_allowed and closed.
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(10);
    try {
      RawPeer p = RawPeer::unix_socket(h.socket_path());
      try {
        p.send(test::hello_frame());
      } catch (...) {
        // The daemon may have refused and closed before our hello: what it said is still to be read.
      }
      for (int i = 0; i < 500 && !p.read_available(); ++i) ::usleep(10'000);
      const auto m = p.messages();
      const bool refused = !m.empty() && std::holds_alternative<ErrorMessage>(m.back()) &&
                           std::get<ErrorMessage>(m.back()).reason == "uid_not_allowed";
      ::_exit(refused ? 0 : 11);
    } catch (...) {
      ::_exit(12);
    }
  }
  int status = -1;
  pid_t waited = 0;  // latched: run_until asks its predicate once more after it held
  ASSERT_TRUE(h.spin([&] { return waited != 0 || (waited = ::waitpid(child, &status, WNOHANG)) != 0; }, 10s));
  ASSERT_EQ(waited, child) << std::strerror(errno);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(count_of(d.counters().peers_rejected, "uid_not_allowed"), 1u);
  d.nrd().publish_now(test::reversed_policy());
  EXPECT_TRUE(h.spin([&] { return good.orchestrator->version() == 2; }));
}

TEST(Daemon, ASlowSubscriberIsDroppedAndTheOthersServed) {
  DaemonHarness h;
  NrdDaemon& d = h.start("limits: {send_queue: 64KiB}\n");
  auto good = h.subscriber("good");
  RawPeer slow = RawPeer::unix_socket(h.socket_path());
  slow.send(test::hello_frame(true));  // subscribes, then never reads
  ASSERT_TRUE(h.spin([&] { return d.subscribers() == 2; }));
  // Large policies (~40 KiB each): the slow peer's socket buffer fills, then its queue in the daemon.
  Policy big = test::host_policy();
  for (int i = 0; i < 600; ++i) {
    Rule r;
    r.match.ports = PortRange{static_cast<std::uint16_t>(1000 + i), static_cast<std::uint16_t>(1000 + i)};
    r.use = {"b", "a"};
    big.rules.insert(big.rules.begin(), r);
  }
  PolicyVersion last = 0;
  for (int i = 0; i < 200 && count_of(d.counters().peers_dropped, "slow_subscriber") == 0; ++i) {
    last = d.nrd().publish_now(big).version;
    h.spin_for(1ms);
  }
  EXPECT_EQ(count_of(d.counters().peers_dropped, "slow_subscriber"), 1u);
  EXPECT_EQ(d.subscribers(), 1u);
  ASSERT_TRUE(h.spin([&] { return good.orchestrator->version() == last; }, 10s));
}

TEST(Daemon, ASilentPeerIsDropped) {
  DaemonHarness h;
  NrdDaemon& d = h.start("limits: {heartbeat: 50ms, peer_timeout: 300ms}\n");
  RawPeer silent = RawPeer::unix_socket(h.socket_path());
  ASSERT_TRUE(h.spin([&] { return d.peers() == 1; }));
  ASSERT_TRUE(h.spin([&] { return count_of(d.counters().peers_dropped, "silent") == 1; }));
  EXPECT_EQ(d.peers(), 0u);
  EXPECT_TRUE(h.spin([&] { return silent.read_available(); }));
  // A client that heartbeats is never taken for silent.
  auto sub = h.subscriber("alive", {.heartbeat = 50ms});
  h.spin_for(700ms);
  EXPECT_EQ(count_of(d.counters().peers_dropped, "silent"), 1u);
  EXPECT_TRUE(sub.client->welcomed());
}

TEST(Daemon, TooManyPeersAreRefused) {
  DaemonHarness h;
  NrdDaemon& d = h.start("limits: {max_peers: 2}\n");
  RawPeer a = RawPeer::unix_socket(h.socket_path()), b = RawPeer::unix_socket(h.socket_path());
  ASSERT_TRUE(h.spin([&] { return d.peers() == 2; }));
  RawPeer c = RawPeer::unix_socket(h.socket_path());
  ASSERT_TRUE(h.spin([&] { return count_of(d.counters().peers_rejected, "too_many_peers") == 1; }));
  ASSERT_TRUE(h.spin([&] { return c.read_available(); }));
  EXPECT_EQ(d.peers(), 2u);
}

TEST(Daemon, ARestartResumesVersionsAndSubscribersResync) {
  DaemonHarness h;
  h.start();
  auto sub = h.subscriber("sub");
  ASSERT_TRUE(h.spin([&] { return h.daemon().subscribers() == 1; }));
  h.daemon().nrd().publish_now(test::reversed_policy());
  h.daemon().nrd().publish_now(test::host_policy());
  ASSERT_TRUE(h.spin([&] { return sub.orchestrator->version() == 3; }));

  h.stop_daemon();  // as if killed: the subscriber keeps serving version 3 and keeps trying to reconnect
  ASSERT_TRUE(h.spin([&] { return !sub.client->welcomed(); }));
  h.spin_for(300ms);
  EXPECT_EQ(sub.orchestrator->version(), 3u);
  EXPECT_GE(sub.client->counters().connect_failures, 2u);

  NrdDaemon& again = h.start();
  EXPECT_EQ(again.nrd().current().version, 3u);  // read back from the state file
  ASSERT_TRUE(h.spin([&] { return again.subscribers() == 1 && sub.client->welcomed(); }));
  again.nrd().publish_now(test::reversed_policy());
  ASSERT_TRUE(h.spin([&] { return sub.orchestrator->version() == 4; }));
  EXPECT_EQ(sub.client->counters().disconnects, 1u);
}

TEST(Daemon, WithoutItsStateItResumesAboveWhatSubscribersHold) {
  DaemonHarness h;
  NrdDaemonConfig config = h.config();
  config.state.reset();
  NrdDaemon& d = h.start(std::move(config));
  Policy held = test::reversed_policy();
  held.version = 9;  // from the daemon's previous life
  auto sub = h.subscriber("sub", {}, held);
  ASSERT_TRUE(h.spin([&] { return sub.orchestrator->version() == 10; }));
  EXPECT_EQ(d.nrd().current().version, 10u);
  EXPECT_NE(d.nrd().current().reason.find("resumed above version 9"), std::string::npos);
}

TEST(Daemon, ACorruptStateFileStopsTheStartNamingIt) {
  DaemonHarness h;
  h.dir().write("state.json", "{\"version\": 2, \"rules\": [{\"use\": []}]}");
  auto d = NrdDaemon::create(h.config(), h.loop(), test::quiet_logger());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, EINVAL);
  EXPECT_NE(d.error().message.find("state.json: not a saved policy"), std::string::npos) << d.error().message;
}

TEST(Daemon, AStatePolicyForOtherStacksRestartsFromTheHostConfigAboveIt) {
  DaemonHarness h;
  h.dir().write("state.json", "{\"version\": 6, \"rules\": [{\"use\": [\"gone\"]}]}");
  NrdDaemon& d = h.start();
  EXPECT_EQ(d.nrd().current().version, 7u);
  EXPECT_EQ(d.nrd().current().rules, test::host_policy().rules);
}

TEST(Daemon, ASecondDaemonOnTheSameSocketIsRefusedAStaleFileIsReplaced) {
  DaemonHarness h;
  h.start();
  auto second = NrdDaemon::create(h.config(), h.loop(), test::quiet_logger());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, EADDRINUSE);
  h.stop_daemon();
  // A socket file left by a daemon that died (nobody listens): replaced.
  auto stale = listen_on(NrdAddress::unix_socket(h.socket_path()), 0600);
  ASSERT_TRUE(stale.ok());
  stale->reset();
  EXPECT_NO_THROW(h.start());
}

TEST(Daemon, TcpPeersAndTheAllowListInsideANamespace) {
  test::InsideNewNamespace ns;
  DaemonHarness h;
  NrdDaemon& d = h.start("listen: {unix: nrd.sock, tcp: 127.0.0.1:0, tcp_allow: [127.0.0.0/8]}\n");
  ASSERT_TRUE(d.tcp_endpoint());
  Orchestrator o({"a", "b"}, test::host_policy());
  NrdClientConfig cfg;
  cfg.address = NrdAddress::tcp_endpoint(*d.tcp_endpoint());
  cfg.name = "remote";
  NrdClient client(h.loop(), cfg, &o);
  client.start();
  ASSERT_TRUE(h.spin([&] { return d.subscribers() == 1; }));
  d.nrd().publish_now(test::reversed_policy());
  ASSERT_TRUE(h.spin([&] { return o.version() == 2; }));
  client.stop();
  h.stop_daemon();

  NrdDaemon& strict = h.start("listen: {unix: nrd.sock, tcp: 127.0.0.1:0, tcp_allow: [10.0.0.0/8]}\n");
  RawPeer outsider = RawPeer::tcp(*strict.tcp_endpoint());
  ASSERT_TRUE(h.spin([&] { return count_of(strict.counters().peers_rejected, "address_not_allowed") == 1; }));
  ASSERT_TRUE(h.spin([&] { return outsider.read_available(); }));
  const auto m = outsider.messages();
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(std::get<ErrorMessage>(m.back()).reason, "address_not_allowed");
}

std::string http_get(DaemonHarness& h, const Endpoint& at, const std::string& target) {
  RawPeer p = RawPeer::tcp(at);
  p.send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(h.spin([&] { return p.read_available(); }));
  return p.received();
}

TEST(Daemon, MetricsAreServedInPrometheusTextOnLoopback) {
  test::InsideNewNamespace ns;
  DaemonHarness h;
  NrdDaemon& d = h.start("metrics: 127.0.0.1:0\n");
  auto sub = h.subscriber("sub");
  ASSERT_TRUE(h.spin([&] { return d.subscribers() == 1; }));
  sub.client->on_sample({.stack = "a", .rtt = 2ms});
  ASSERT_TRUE(h.spin([&] { return d.nrd().estimates()[0].has_rtt; }));
  const std::string response = http_get(h, *d.metrics_endpoint(), "/metrics");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
  for (const char* line : {"dmm_nrd_policy_version 1\n", "dmm_nrd_subscribers 1\n",
                           "dmm_nrd_stack_rtt_seconds{stack=\"a\"} 0.002\n", "dmm_nrd_stack_healthy{stack=\"b\"} 1\n",
                           "dmm_nrd_samples_total{source=\"orchestrator\"} 1\n", "# TYPE dmm_nrd_messages_rejected_total counter\n"})
    EXPECT_NE(response.find(line), std::string::npos) << line << "\n" << response;
  EXPECT_EQ(http_get(h, *d.metrics_endpoint(), "/").rfind("HTTP/1.1 404", 0), 0u);
  RawPeer post = RawPeer::tcp(*d.metrics_endpoint());
  post.send("POST /metrics HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(h.spin([&] { return post.read_available(); }));
  EXPECT_EQ(post.received().rfind("HTTP/1.1 405", 0), 0u);
  RawPeer flood = RawPeer::tcp(*d.metrics_endpoint());
  flood.send(std::string(9000, 'x'));  // no end of head within the limit
  ASSERT_TRUE(h.spin([&] { return flood.read_available(); }));
  EXPECT_EQ(flood.received().rfind("HTTP/1.1 431", 0), 0u);
}

}  // namespace
