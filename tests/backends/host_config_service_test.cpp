// The host config's keys for dmm-stackd (DESIGN.md §2.5; backends/service/README.md): `service:` (where the daemon
// listens) and a kernel stack's `allow:` (who may have its sockets through the daemon), typed field by field, names
// resolved through the account database, and kept out of the registry's parameters. The bad inputs are in the
// corpus (tests/backends/bad-configs/service-*.yaml, allow-*.yaml).
#include <grp.h>
#include <gtest/gtest.h>

#include <regex>

#include "dmm/host/host_config.hpp"
#include "dmm/kernel/kernel_stack_config.hpp"

namespace dmm::host {
namespace {

constexpr const char* kWithService = R"(stacks:
  - {name: host, kind: kernel}
  - {name: blue, kind: kernel, netns: blue, allow: {users: [nobody, 1000, root, 1000], groups: [www-data, 33, 4242]}}
  - {name: red, kind: kernel, netns: red}
policy:
  - {match: {}, use: [blue, red, host]}
service: {socket: run/stackd.sock, mode: "0660", max_peers: 64}
)";

Result<HostConfig> load(const std::string& text) { return load_host_config_text(text, "/etc/dmm/dmm.yaml"); }

TEST(HostConfigService, ServiceAndAllowAreTyped) {
  auto r = load(kWithService);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->service);
  EXPECT_EQ(r->service->socket, "/etc/dmm/run/stackd.sock");  // relative to the config's directory
  EXPECT_EQ(r->service->mode, 0660u);
  EXPECT_EQ(r->service->max_peers, 64u);
  EXPECT_EQ(r->service->mark.line, 7);

  const StackSpec& blue = *r->find_stack("blue");
  ASSERT_TRUE(blue.kernel);
  const AllowSpec& allow = blue.kernel->allow;
  EXPECT_TRUE(allow.written);
  // Names as numbers, in order, each once.
  EXPECT_EQ(allow.users, (std::vector<uid_t>{65534, 1000, 0}));
  group* www = ::getgrnam("www-data");
  ASSERT_NE(www, nullptr);
  ASSERT_EQ(www->gr_gid, 33u);  // Debian's; the list below dedups it with the literal 33
  EXPECT_EQ(allow.groups, (std::vector<gid_t>{33, 4242}));
  EXPECT_EQ(allow.mark.line, 3);
  EXPECT_EQ(allow.mark.column, 52);
  // `allow:` is the service's admission, not an instance parameter: the registry and dmm-nrd's probes never see it.
  EXPECT_EQ(blue.params.count("allow"), 0u);
  EXPECT_TRUE(kernel::parse_kernel_stack_config(to_stack_config(blue)).ok());

  const StackSpec& red = *r->find_stack("red");
  EXPECT_FALSE(red.kernel->allow.written);
  EXPECT_TRUE(red.kernel->allow.users.empty());
  EXPECT_TRUE(red.kernel->allow.groups.empty());
  EXPECT_EQ(red.kernel->allow.mark.line, 4);  // the stack's own place, for "has no allow:" messages
}

TEST(HostConfigService, DefaultsAndAbsence) {
  auto minimal = load("stacks: [{name: host, kind: kernel}]\npolicy: [{match: {}, use: [host]}]\n"
                      "service: {socket: /run/dmm/stackd.sock}\n");
  ASSERT_TRUE(minimal.ok()) << minimal.error().message;
  EXPECT_EQ(minimal->service->mode, 0666u);
  EXPECT_EQ(minimal->service->max_peers, 1024u);
  auto none = load("stacks: [{name: host, kind: kernel}]\npolicy: [{match: {}, use: [host]}]\n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->service);
  // An empty allow is written, and lets nobody in (but root).
  auto empty = load("stacks: [{name: b, kind: kernel, netns: b, allow: {}}]\npolicy: [{match: {}, use: [b]}]\n");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->stacks[0].kernel->allow.written);
  EXPECT_TRUE(empty->stacks[0].kernel->allow.users.empty());
  // Quoted numbers are numbers; unquoted octal-looking modes are read as octal text.
  auto quoted = load("stacks: [{name: b, kind: kernel, allow: {users: [\"1000\"], groups: ['0']}}]\n"
                     "policy: [{match: {}, use: [b]}]\nservice: {socket: /s, mode: 600}\n");
  ASSERT_TRUE(quoted.ok()) << quoted.error().message;
  EXPECT_EQ(quoted->stacks[0].kernel->allow.users, (std::vector<uid_t>{1000}));
  EXPECT_EQ(quoted->stacks[0].kernel->allow.groups, (std::vector<gid_t>{0}));
  EXPECT_EQ(quoted->service->mode, 0600u);
}

// As for the rest of dmm.yaml: every prefix loads or fails in the agreed form, never a crash or an exception.
TEST(HostConfigService, EveryTruncationFailsCleanlyOrLoads) {
  const std::string full(kWithService);
  const std::regex form(R"(^/etc/dmm/dmm\.yaml:\d+:\d+: .+)");
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto r = load(full.substr(0, n));
    if (r.ok()) continue;
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_TRUE(std::regex_match(r.error().message, form)) << "prefix " << n << ": " << r.error().message;
  }
}

}  // namespace
}  // namespace dmm::host
