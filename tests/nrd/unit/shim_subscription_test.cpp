// The preload shim's subscription thread against the real daemon, in-process: policies pushed by the daemon reach
// the shim's orchestrator while another thread keeps selecting from it (the program's threads do exactly that).
// Built into a TSan configuration, this is the race check of the subscription thread (see README "Sanitizers").
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "daemon_harness.hpp"
#include "nrd_subscription.hpp"

using namespace std::chrono_literals;
using namespace dmm;

namespace {

TEST(ShimSubscription, AppliesEveryVersionWhileProgramThreadsSelect) {
  test::DaemonHarness h;
  h.start();
  // Never destroyed, as in the shim: the subscription thread holds it until the process ends.
  static Orchestrator& orchestrator = *new Orchestrator({"a", "b"}, test::host_policy());
  std::vector<std::string> problems;
  host::NrdSpec spec;
  spec.socket = h.socket_path();
  // No start-up wait: this test drives the in-process daemon itself, from this thread.
  preload::start_nrd_subscription(orchestrator, spec, problems, std::chrono::milliseconds(0));
  ASSERT_TRUE(problems.empty());

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> selections{0};
  std::thread program([&] {
    const SessionRequest request{Endpoint{IpAddress::v4(0x0a000001), 80}, L4Proto::tcp, Intent::default_};
    while (!stop.load(std::memory_order_relaxed)) {
      auto c = orchestrator.select(request);
      if (c) selections.fetch_add(1, std::memory_order_relaxed);
    }
  });
  ASSERT_TRUE(h.spin([&] { return h.daemon().subscribers() == 1; }));
  for (int i = 0; i < 50; ++i) {
    h.daemon().nrd().publish_now(i % 2 ? test::host_policy() : test::reversed_policy());
    h.spin_for(2ms);
  }
  const bool all = h.spin([&] { return orchestrator.version() == 51; });
  stop = true;
  program.join();
  EXPECT_TRUE(all) << "the orchestrator holds version " << orchestrator.version();
  EXPECT_GT(selections.load(), 0u);
  // A close() of something the shim never placed costs a table lookup and reports nothing.
  preload::nrd_session_closing(0);
}

}  // namespace
