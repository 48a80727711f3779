// emu.json's verdicts from the link emulator's report (backends/emu/src/fidelity.hpp): lateness limits, rate
// error while saturated, loss against its binomial interval, the emulator's CPU per 100 Mbit/s. Pure functions on
// synthetic reports, so every rule is checked without running an emulation.
#include "fidelity.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "run/link_emulation_spec.hpp"
#include "scenario/scenario.hpp"

namespace dmm::emu {
namespace {

scenario::Scenario two_links() {
  auto sc = scenario::load_text(R"(
name: fidelity
duration: 10s
topology:
  nodes: [client, server]
  links:
    - {name: wan-a, between: [client, server], rate: 100Mbps, delay: 10ms, loss: 0.01}
    - {name: wan-b, between: [client, server], rate: 20Mbps, delay: 40ms}
stacks:
  - {name: fast, node: client, kind: kernel, link: wan-a}
  - {name: slow, node: client, kind: kernel, link: wan-b}
policy:
  - {match: {}, use: [fast, slow]}
workloads:
  - {name: rpc, kind: request-response, from: client, to: server, port: 80, start: 0s, stop: 10s, rate: 10/s}
)",
                                "fidelity.yaml");
  if (!sc) throw std::runtime_error(sc.error().message);
  return *sc;
}

EmulatorStats punctual_report() {
  EmulatorStats stats;
  stats.lateness_s.assign(10000, 0.0001);
  stats.wall_s = 10;
  stats.cpu_s = 2;
  stats.links.resize(2);
  stats.links[0].index = 0;
  stats.links[1].index = 1;
  // 100 000 packets reached wan-a's receiver, 1 % of them lost: what the configured loss predicts.
  stats.links[0].a_to_b = {.packets_sent = 100000, .packets_delivered = 99000, .packets_lost = 1000,
                           .bytes_delivered = 125'000'000};
  return stats;
}

TEST(EmuFidelity, APunctualEmulatorIsValidAndReportsItsCost) {
  const auto f = assess_fidelity(two_links(), punctual_report(), 0.5, {});
  EXPECT_TRUE(f.valid);
  EXPECT_TRUE(f.json["reasons"].empty());
  const auto& emulator = f.json["emulator"];
  // 125 MB over 10 s = 100 Mbit/s carried, for 2 s of CPU in 10 s: a fifth of a core per 100 Mbit/s.
  EXPECT_NEAR(emulator["carried_mbps"].get<double>(), 100.0, 1e-9);
  EXPECT_NEAR(emulator["cpu_share"].get<double>(), 0.2, 1e-9);
  EXPECT_NEAR(emulator["cpu_share_per_100_mbps"].get<double>(), 0.2, 1e-9);
  const auto& wan_a = f.json["links"][0]["client->server"];
  EXPECT_TRUE(wan_a["loss_consistent"].get<bool>());
  EXPECT_NEAR(wan_a["loss_realised"].get<double>(), 0.01, 1e-12);
  EXPECT_TRUE(wan_a["rate_error"].is_null());  // never saturated: no rate to judge
}

TEST(EmuFidelity, LatenessBeyondTheLimitsMakesTheRunInvalid) {
  auto stats = punctual_report();
  // 2 % of the samples 50 ms late: p99 beyond max(5 ms, half of the smallest delay = 5 ms); the median is fine.
  for (std::size_t i = 0; i < 200; ++i) stats.lateness_s[i] = 0.05;
  auto f = assess_fidelity(two_links(), stats, 0.5, {});
  EXPECT_FALSE(f.valid);
  ASSERT_EQ(f.invalid_because.size(), 1u);
  EXPECT_NE(f.invalid_because[0].find("p99 lateness"), std::string::npos) << f.invalid_because[0];

  stats.lateness_s.assign(10000, 0.002);  // everything 2 ms late: a systematic shift beyond the 1 ms median limit
  f = assess_fidelity(two_links(), stats, 0.5, {});
  EXPECT_FALSE(f.valid);
  EXPECT_NE(f.invalid_because.at(0).find("median lateness"), std::string::npos) << f.invalid_because[0];

  stats.lateness_s.clear();
  EXPECT_FALSE(assess_fidelity(two_links(), stats, 0.5, {}).valid);
}

TEST(EmuFidelity, ARateStretchedWhileSaturatedMakesTheRunInvalid) {
  auto stats = punctual_report();
  stats.links[1].b_to_a.saturated_sim_s = 3.0;
  stats.links[1].b_to_a.saturated_wall_s = 3.03;  // 1 % slower: within the limit
  auto f = assess_fidelity(two_links(), stats, 0.5, {});
  EXPECT_TRUE(f.valid) << testing::PrintToString(f.invalid_because);
  EXPECT_NEAR(f.json["links"][1]["server->client"]["rate_error"].get<double>(), 3.0 / 3.03 - 1, 1e-12);
  EXPECT_NEAR(f.json["links"][1]["server->client"]["saturated_s"].get<double>(), 3.0, 1e-12);

  stats.links[1].b_to_a.saturated_wall_s = 4.0;  // the hosts saw 75 % of the link's rate
  f = assess_fidelity(two_links(), stats, 0.5, {});
  EXPECT_FALSE(f.valid);
  ASSERT_EQ(f.invalid_because.size(), 1u);
  EXPECT_NE(f.invalid_because[0].find("link wan-b server->client ran at 75 % of its rate"), std::string::npos)
      << f.invalid_because[0];
}

TEST(EmuFidelity, FramesDroppedBeforeTheEmulatorMakeTheRunInvalid) {
  // A host sending faster than the emulator reads: the kernel drops frames at the packet socket, before ns-3 (and
  // its lateness and rate checks) ever sees them. The hosts' TCP backs off, so nothing else would show it.
  auto stats = punctual_report();
  stats.links[0].a_to_b.packets_dropped_before_emulator = 12;
  const auto f = assess_fidelity(two_links(), stats, 0.5, {});
  EXPECT_FALSE(f.valid);
  ASSERT_EQ(f.invalid_because.size(), 1u);
  EXPECT_EQ(f.invalid_because[0],
            "link wan-a client->server: 12 frames were dropped before the emulator read them (it could not keep up)");
  EXPECT_EQ(f.json["links"][0]["client->server"]["packets_dropped_before_emulator"].get<std::uint64_t>(), 12u);
}

TEST(EmuFidelity, LossOutsideItsBinomialIntervalIsFlagged) {
  auto stats = punctual_report();
  stats.links[0].a_to_b.packets_delivered = 97000;  // 3 % lost where 1 % was configured
  stats.links[0].a_to_b.packets_lost = 3000;
  const auto f = assess_fidelity(two_links(), stats, 0.5, {});
  EXPECT_FALSE(f.json["links"][0]["client->server"]["loss_consistent"].get<bool>());
}

TEST(EmuFidelity, WilsonIntervalBracketsTheObservedShare) {
  const auto [lo, hi] = wilson_interval(10, 1000);
  EXPECT_LT(lo, 0.01);
  EXPECT_GT(hi, 0.01);
  EXPECT_NEAR(lo, 0.00544, 1e-4);  // the textbook values for 10 of 1000
  EXPECT_NEAR(hi, 0.01831, 1e-4);
  EXPECT_EQ(wilson_interval(0, 0), (std::pair<double, double>{0.0, 1.0}));
}

TEST(EmuLinkReport, TheEmulatorsReportSurvivesItsJsonForm) {
  auto stats = punctual_report();
  stats.links[0].a_to_b.saturated_sim_s = 1.5;
  stats.links[0].a_to_b.saturated_wall_s = 1.51;
  const auto back = parse_emulator_stats(emulator_stats_json(stats));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->cpu_s, 2);
  EXPECT_EQ(back->links.at(0).a_to_b.packets_lost, 1000u);
  EXPECT_EQ(back->links.at(0).a_to_b.saturated_wall_s, 1.51);
  EXPECT_EQ(back->lateness_s.size(), 10000u);

  const auto missing = parse_emulator_stats(R"({"links": [], "lateness_s": [], "wall_s": 1})");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cpu_s"), std::string::npos) << missing.error().message;
}

}  // namespace
}  // namespace dmm::emu
