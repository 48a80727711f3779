// What an edited host config changes in a running dmm-stackd (backends/service/daemon/config_reload.hpp): `allow:`
// and kernel instances at once; a user-space instance added, removed or changed, and `service:`, wait for a
// restart while the running ones stay served as they are.
#include "config_reload.hpp"

#include <gtest/gtest.h>

namespace dmm::service {
namespace {

host::HostConfig load(const std::string& stacks, const std::string& service = "service: {socket: /tmp/s.sock}\n") {
  host::LoadOptions options;
  options.resolve_accounts = false;  // names checked for form only: no account database needed here
  auto config = host::load_host_config_text("stacks:\n" + stacks + "policy:\n  - {match: {}, use: [host]}\n" + service,
                                            "/tmp/dmm.yaml", options);
  EXPECT_TRUE(config.ok()) << (config.ok() ? "" : config.error().message);
  return config.ok() ? *config : host::HostConfig{};
}

const std::string kHost = "  - {name: host, kind: kernel}\n";
const std::string kUser0 = "  - {name: user0, kind: lwip-dpdk, vdev: 'net_af_packet0,iface=u0', address: 10.0.0.2/24";

std::vector<std::string> names(const host::HostConfig& c) {
  std::vector<std::string> out;
  for (const auto& s : c.stacks) out.push_back(s.name);
  return out;
}

TEST(ConfigReload, AllowAndKernelInstancesApplyAtOnce) {
  const auto running = load(kHost + kUser0 + "}\n");
  auto merge = merge_for_running_daemon(
      running, load(kHost + "  - {name: blue, kind: kernel, netns: blue}\n" + kUser0 + ", allow: {users: [x]}}\n"));
  EXPECT_TRUE(merge.not_applied.empty());
  EXPECT_EQ(names(merge.config), (std::vector<std::string>{"host", "blue", "user0"}));
  EXPECT_TRUE(merge.config.find_stack("user0")->lwip_dpdk.has_value());
}

TEST(ConfigReload, AChangedUserSpaceInstanceKeepsRunningAsItWasUntilARestart) {
  const auto running = load(kHost + kUser0 + "}\n");
  auto merge = merge_for_running_daemon(running, load(kHost + "  - {name: user0, kind: lwip-dpdk, "
                                                              "vdev: 'net_af_packet0,iface=u0', address: 10.0.0.7/24}\n"));
  EXPECT_EQ(merge.not_applied, std::vector<std::string>{"user0"});
  ASSERT_NE(merge.config.find_stack("user0"), nullptr);
  EXPECT_EQ(merge.config.find_stack("user0")->lwip_dpdk->address.address.to_string(), "10.0.0.2");
}

TEST(ConfigReload, AddedRemovedOrRetypedUserSpaceInstancesWaitForARestart) {
  const auto running = load(kHost + kUser0 + "}\n");
  // Gone from the file: still served (its sessions live on) until the restart.
  auto removed = merge_for_running_daemon(running, load(kHost));
  EXPECT_EQ(removed.not_applied, std::vector<std::string>{"user0"});
  EXPECT_NE(removed.config.find_stack("user0"), nullptr);
  // Added: not run until the restart.
  auto added = merge_for_running_daemon(load(kHost), load(kHost + kUser0 + "}\n"));
  EXPECT_EQ(added.not_applied, std::vector<std::string>{"user0"});
  EXPECT_EQ(added.config.find_stack("user0"), nullptr);
  // The same name now a kernel stack: the running instance keeps the name until the restart.
  auto retyped = merge_for_running_daemon(running, load(kHost + "  - {name: user0, kind: kernel, netns: x}\n"));
  EXPECT_EQ(retyped.not_applied, std::vector<std::string>{"user0"});
  ASSERT_NE(retyped.config.find_stack("user0"), nullptr);
  EXPECT_TRUE(retyped.config.find_stack("user0")->lwip_dpdk.has_value());
  EXPECT_EQ(names(retyped.config), (std::vector<std::string>{"host", "user0"}));
}

TEST(ConfigReload, TheServiceSocketWaitsForARestart) {
  const auto running = load(kHost);
  auto moved = merge_for_running_daemon(running, load(kHost, "service: {socket: /tmp/other.sock}\n"));
  EXPECT_EQ(moved.not_applied, std::vector<std::string>{"service"});
  EXPECT_EQ(moved.config.service->socket, "/tmp/s.sock");
  auto mode = merge_for_running_daemon(running, load(kHost, "service: {socket: /tmp/s.sock, mode: '0600'}\n"));
  EXPECT_EQ(mode.not_applied, std::vector<std::string>{"service"});
  auto same = merge_for_running_daemon(running, load(kHost));
  EXPECT_TRUE(same.not_applied.empty());
}

}  // namespace
}  // namespace dmm::service
