#include "dmm/nrd/policy_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "preload_fixture.hpp"

using namespace dmm;
using namespace dmm::nrd;

namespace {

Policy policy(PolicyVersion v) {
  Policy p;
  p.version = v;
  p.reason = "test";
  p.rules.push_back(Rule{Match{}, {"a", "b"}});
  p.down = {"b"};
  return p;
}

TEST(PolicyStore, NothingSavedIsNoPolicy) {
  test::TempDir dir;
  auto loaded = PolicyStore(dir.file("state.json")).load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_FALSE(*loaded);
}

TEST(PolicyStore, SavesAtomicallyAndLoadsBack) {
  test::TempDir dir;
  const PolicyStore store(dir.file("state.json"));
  ASSERT_TRUE(store.save(policy(4)).ok());
  ASSERT_TRUE(store.save(policy(5)).ok());  // replaces
  auto loaded = store.load();
  ASSERT_TRUE(loaded.ok() && *loaded) << (loaded.ok() ? "none" : loaded.error().message);
  EXPECT_EQ((*loaded)->version, 5u);
  EXPECT_EQ((*loaded)->rules, policy(5).rules);
  EXPECT_EQ((*loaded)->down, policy(5).down);
  // No temporary file is left behind.
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(PolicyStore, ACorruptFileIsAnErrorNamingIt) {
  test::TempDir dir;
  const std::string path = dir.write("state.json", "{\"version\": 3, \"rules\": [");
  auto loaded = PolicyStore(path).load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, EINVAL);
  EXPECT_EQ(loaded.error().message.rfind(path + ": not a saved policy", 0), 0u) << loaded.error().message;
}

TEST(PolicyStore, AnUnwritableDirectoryIsReported) {
  test::TempDir dir;
  const PolicyStore store(dir.file("missing/state.json"));
  const Status saved = store.save(policy(1));
  ASSERT_FALSE(saved.ok());
  EXPECT_NE(saved.error().message.find("missing/state.json.tmp."), std::string::npos) << saved.error().message;
}

}  // namespace
