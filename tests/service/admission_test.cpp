// Who may use which stack through dmm-stackd (host config `allow:`): root always; a listed uid; a listed group as
// the primary or a supplementary group; nobody else, with a message that names the uid, the stack and the key.
#include "dmm/service/admission.hpp"

#include <gtest/gtest.h>

namespace dmm::service {
namespace {

host::HostConfig load(const std::string& text) {
  auto config = host::load_host_config_text(text, "/etc/dmm/dmm.yaml");
  EXPECT_TRUE(config.ok()) << config.error().message;
  if (!config.ok()) std::abort();
  return std::move(*config);
}

PeerIdentity peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  return PeerIdentity{1, uid, gid, std::move(groups)};
}

class Admission : public ::testing::Test {
protected:
  host::HostConfig config_ = load(
      "stacks:\n"
      "  - {name: open, kind: kernel, netns: a, allow: {users: [nobody, 1000], groups: [33, 4242]}}\n"
      "  - {name: closed, kind: kernel, netns: a}\n"
      "  - {name: empty, kind: kernel, netns: a, allow: {}}\n"
      "policy: [{match: {}, use: [open]}]\n");
  const host::StackSpec& open_ = *config_.find_stack("open");
  const host::StackSpec& closed_ = *config_.find_stack("closed");
  const host::StackSpec& empty_ = *config_.find_stack("empty");
};

TEST_F(Admission, RootIsAlwaysAllowed) {
  for (const host::StackSpec* s : {&open_, &closed_, &empty_}) EXPECT_TRUE(admit(peer(0, 0), *s, config_.file).ok());
  EXPECT_TRUE(admit(peer(0, 1234), closed_, config_.file).ok());
}

TEST_F(Admission, UsersAndGroupsLetPeersIn) {
  EXPECT_TRUE(admit(peer(65534, 65534), open_, config_.file).ok());  // nobody, by name
  EXPECT_TRUE(admit(peer(1000, 1000), open_, config_.file).ok());
  EXPECT_TRUE(admit(peer(2000, 33), open_, config_.file).ok());            // primary group
  EXPECT_TRUE(admit(peer(2000, 2000, {7, 4242}), open_, config_.file).ok());  // supplementary group
  const Status refused = admit(peer(2000, 2000, {7, 8}), open_, config_.file);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, EACCES);
  EXPECT_EQ(refused.error().message,
            "not_allowed: uid 2000 (gid 2000) may not use stack 'open': its uid is not in stacks.open.allow.users and "
            "none of its groups is in stacks.open.allow.groups (/etc/dmm/dmm.yaml:2:49)");
}

TEST_F(Admission, WithoutAllowOnlyRootMay) {
  const Status refused = admit(peer(65534, 65534), closed_, config_.file);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, EACCES);
  EXPECT_EQ(refused.error().message,
            "not_allowed: uid 65534 (gid 65534) may not use stack 'closed': the stack has no `allow:` "
            "(/etc/dmm/dmm.yaml:3:5), so only root may; add the uid to stacks.closed.allow.users or a group of it to "
            "stacks.closed.allow.groups");
  // An empty allow lets nobody but root in either, and says where it is.
  const Status empty = admit(peer(1000, 1000), empty_, config_.file);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("stacks.empty.allow.users"), std::string::npos);
}

TEST_F(Admission, AStackOfAnotherKindAdmitsOnlyRoot) {
  host::StackSpec user;
  user.name = "user0";
  user.kind = "lwip-dpdk";
  EXPECT_TRUE(admit(peer(0, 0), user, config_.file).ok());
  EXPECT_EQ(admit(peer(1000, 1000), user, config_.file).error().code, EACCES);
}

}  // namespace
}  // namespace dmm::service
