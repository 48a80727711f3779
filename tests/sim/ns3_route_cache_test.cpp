// CachedRouting (the simulated nodes' routing): answers are remembered, and forgotten when an interface changes,
// so a link that goes down is seen by the next connect as before.
#include "model/ns3_route_cache.hpp"
#include "ns3/ipv4.h"
#include "ns3_stack_fixture.hpp"

namespace dmm::sim {
namespace {

using namespace std::chrono_literals;

class Ns3RouteCacheTest : public Ns3StackTest {
protected:
  static CachedRouting& routing(const ns3::Ptr<ns3::Node>& node) {
    auto cached = ns3::DynamicCast<CachedRouting>(node->GetObject<ns3::Ipv4>()->GetRoutingProtocol());
    EXPECT_TRUE(cached);
    return *cached;
  }
};

TEST_F(Ns3RouteCacheTest, AnswersAreRememberedUntilAnInterfaceChanges) {
  // (That a link going down after use is seen by the next connect: Ns3StackTest.LinkDownFailsNewConnects...)
  serve(*server_stack_, 5001, L4Proto::tcp, false);
  Client& first = open(*stack1_, 5001, L4Proto::tcp, 1000);
  run_until(1s);
  ASSERT_TRUE(first.connected);
  EXPECT_GT(routing(client_node_).remembered(), 0u);
  EXPECT_GT(routing(server_node_).remembered(), 0u);  // the server's replies were routed too
  link1_->set_up(false);
  EXPECT_EQ(routing(client_node_).remembered(), 0u);
  link1_->set_up(true);
  open(*stack1_, 5001, L4Proto::tcp, 1000);
  run_until(2s);
  EXPECT_GT(routing(client_node_).remembered(), 0u);
}

}  // namespace
}  // namespace dmm::sim
