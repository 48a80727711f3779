#include "dmm/stack_registry.hpp"

#include <gtest/gtest.h>

#include "dmm/event_queue_executor.hpp"
#include "fake_stack.hpp"

using namespace dmm;

namespace {

struct World final : StackWorld {
  Executor& executor() override { return ex; }
  Stack* find_stack(const StackId& id) override { return id == "base" ? &base : nullptr; }
  EventQueueExecutor ex;
  test::FakeStack base{ex, "base"};
};

StackKind fake_kind() {
  return {"fake", {"speed"}, [](const StackConfig& c, StackWorld& w) -> Result<std::unique_ptr<Stack>> {
            auto& world = static_cast<World&>(w);
            return std::unique_ptr<Stack>(std::make_unique<test::FakeStack>(world.ex, c.name));
          }};
}

TEST(StackRegistry, CreatesRegisteredKindsByName) {
  StackRegistry reg;
  ASSERT_TRUE(reg.add(fake_kind()).ok());
  World w;
  auto s = reg.create({"a", "fake", {{"speed", "1"}}}, w);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->info().id, "a");
}

TEST(StackRegistry, RejectsDuplicatesUnknownKindsAndUnknownParams) {
  StackRegistry reg;
  ASSERT_TRUE(reg.add(fake_kind()).ok());
  EXPECT_EQ(reg.add(fake_kind()).error().code, EEXIST);
  World w;
  EXPECT_EQ(reg.create({"a", "nope", {}}, w).error().code, ENOENT);
  auto bad = reg.create({"a", "fake", {{"colour", "red"}}}, w);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("no parameter 'colour'"), std::string::npos);
}

TEST(StackRegistry, LoadsAKindFromASharedLibrary) {
  StackRegistry reg;
  ASSERT_EQ(reg.find("relay"), nullptr);
  auto st = reg.load_plugin(DMM_TEST_PLUGIN);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_NE(reg.find("relay"), nullptr);
  EXPECT_EQ(reg.find("relay")->params, std::vector<std::string>{"over"});
  World w;
  auto relay = reg.create({"r", "relay", {{"over", "base"}}}, w);
  ASSERT_TRUE(relay.ok()) << relay.error().message;
  EXPECT_EQ((*relay)->info().kind, "relay");
  // It really carries connections over the stack it relays through.
  struct : ConnectionEvents {} events;
  auto c = (*relay)->connect({}, L4Proto::tcp, events);
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(w.base.connects, 1);
  EXPECT_FALSE(reg.create({"r", "relay", {{"over", "missing"}}}, w).ok());
}

TEST(StackRegistry, PluginErrorsNameTheLibrary) {
  StackRegistry reg;
  auto missing = reg.load_plugin("/nonexistent/libnothing.so");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/libnothing.so"), std::string::npos);
  // A real library without the registration symbol.
  auto no_symbol = reg.load_plugin("libm.so.6");
  ASSERT_FALSE(no_symbol.ok());
  EXPECT_NE(no_symbol.error().message.find("dmm_register_stack_kinds"), std::string::npos);
}

}  // namespace
