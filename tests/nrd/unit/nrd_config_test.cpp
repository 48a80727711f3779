#include "dmm/nrd/nrd_config.hpp"

#include <gtest/gtest.h>


#include "../../common/bad_corpus.hpp"
#include "preload_fixture.hpp"

using namespace std::chrono_literals;
using namespace dmm;
using namespace dmm::nrd;

namespace {

const std::string kHost =
    "stacks:\n"
    "  - {name: blue, kind: kernel, netns: nsb}\n"
    "  - {name: red, kind: kernel, netns: nsr}\n"
    "policy:\n"
    "  - {match: {}, use: [blue, red]}\n"
    "nrd: {socket: run/nrd.sock}\n";

class NrdConfigTest : public ::testing::Test {
protected:
  Result<NrdDaemonConfig> load(const std::string& nrd_yaml) {
    dir_.write("dmm.yaml", kHost);
    return load_nrd_config_file(dir_.write("nrd.yaml", nrd_yaml), 1234);
  }
  test::TempDir dir_;
};

TEST_F(NrdConfigTest, EveryFieldIsTyped) {
  auto c = load(
      "host: dmm.yaml\n"
      "listen: {unix: sock/nrd.sock, mode: '0660', allow_uids: [0, 1000], allow_gids: [50], tcp: 10.1.0.1:7601,\n"
      "         tcp_allow: [10.1.0.0/16]}\n"
      "algorithm: weighted\n"
      "params: {hysteresis: 0.5, loss_weight: 3}\n"
      "period: 250ms\n"
      "estimates: {ewma_alpha: 0.5, failure_threshold: 3, retry_after: 2s, expire_after: 20s, capacity_window: 3s}\n"
      "probes:\n"
      "  interval: 100ms\n"
      "  timeout: 300ms\n"
      "  payload: 4KiB\n"
      "  targets:\n"
      "    - {stack: blue, to: 10.2.0.1:7}\n"
      "    - {stack: red, to: '[fd00::1]:80', kind: connect}\n"
      "state: state/policy.json\n"
      "record: /var/log/decisions.jsonl\n"
      "metrics: 127.0.0.1:9464\n"
      "log: {level: debug}\n"
      "limits: {max_message: 64KiB, max_peers: 10, send_queue: 1MiB, heartbeat: 200ms, peer_timeout: 1s}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->host.stacks.size(), 2u);
  EXPECT_EQ(c->listen.unix_path, dir_.path() + "/sock/nrd.sock");
  EXPECT_EQ(c->listen.unix_mode, 0660u);
  EXPECT_EQ(c->listen.allow_uids, (std::vector<uid_t>{0, 1000}));
  EXPECT_EQ(c->listen.allow_gids, (std::vector<gid_t>{50}));
  EXPECT_EQ(c->listen.tcp->to_string(), "10.1.0.1:7601");
  ASSERT_EQ(c->listen.tcp_allow.size(), 1u);
  EXPECT_EQ(c->algorithm, "weighted");
  EXPECT_EQ(c->params.at("hysteresis"), 0.5);
  EXPECT_EQ(c->params.at("loss_weight"), 3);
  EXPECT_EQ(c->nrd.period, 250ms);
  EXPECT_EQ(c->nrd.ewma_alpha, 0.5);
  EXPECT_EQ(c->nrd.failure_threshold, 3u);
  EXPECT_EQ(c->nrd.retry_after, 2s);
  EXPECT_EQ(c->nrd.expire_after, 20s);  // the scenario's nrd.estimates key, read by the same function
  EXPECT_EQ(c->nrd.capacity_window, 3s);
  EXPECT_EQ(c->probes.interval, 100ms);
  EXPECT_EQ(c->probes.timeout, 300ms);
  EXPECT_EQ(c->probes.payload, 4096u);
  ASSERT_EQ(c->probes.targets.size(), 2u);
  EXPECT_EQ(c->probes.targets[0].kind, ProbeKind::echo);
  EXPECT_EQ(c->probes.targets[1].kind, ProbeKind::connect);
  EXPECT_EQ(c->probes.targets[1].to.to_string(), "[fd00::1]:80");
  EXPECT_EQ(*c->state, dir_.path() + "/state/policy.json");
  EXPECT_EQ(*c->record, "/var/log/decisions.jsonl");
  EXPECT_EQ(c->metrics->to_string(), "127.0.0.1:9464");
  EXPECT_EQ(c->log_level, host::LogLevel::debug);
  EXPECT_EQ(c->limits.max_message, 65536u);
  EXPECT_EQ(c->limits.max_peers, 10u);
  EXPECT_EQ(c->limits.send_queue, 1u << 20);
  EXPECT_EQ(c->limits.heartbeat, 200ms);
  EXPECT_EQ(c->limits.peer_timeout, 1s);
}

TEST_F(NrdConfigTest, DefaultsComeFromTheHostConfigAndTheDaemonsUid) {
  auto c = load("host: dmm.yaml\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->listen.unix_path, dir_.path() + "/run/nrd.sock");  // the host config's nrd.socket
  EXPECT_EQ(c->listen.unix_mode, 0600u);
  EXPECT_EQ(c->listen.allow_uids, (std::vector<uid_t>{1234}));
  EXPECT_TRUE(c->listen.allow_gids.empty());
  EXPECT_FALSE(c->listen.tcp);
  EXPECT_EQ(c->algorithm, "min-rtt");
  EXPECT_EQ(c->nrd.period, 500ms);
  EXPECT_TRUE(c->probes.targets.empty());
  EXPECT_FALSE(c->state);
  EXPECT_FALSE(c->metrics);
  EXPECT_EQ(c->host.policy.version, 1u);
}

TEST_F(NrdConfigTest, WithoutAnySocketItSaysWhatIsMissing) {
  dir_.write("dmm.yaml", "stacks: [{name: a, kind: kernel}]\npolicy: [{match: {}, use: [a]}]\n");
  auto c = load_nrd_config_file(dir_.write("nrd.yaml", "host: dmm.yaml\n"), 0);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("missing `listen: {unix: PATH}`"), std::string::npos) << c.error().message;
}

TEST(NrdConfigCorpus, EveryBadConfigFailsWhereItSays) {
  test::expect_every_file_fails_where_it_says(DMM_NRD_BAD_CONFIGS, 30,
                                              [](const std::string& path) { return load_nrd_config_file(path, 0); });
}

}  // namespace
