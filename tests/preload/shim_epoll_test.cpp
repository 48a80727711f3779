// What a program registers on a socket before connect() holds after the shim has put another socket behind its
// fd (issue 11 point 1; DESIGN.md §2.4): epoll interest (ET, level, one-shot, removed, the same fd in several sets,
// a dup with its own data word, an epoll set inherited over fork), O_ASYNC with its owner and signal. For kernel
// instances in another namespace and for lwip-dpdk instances; in C and from Python (select.epoll, asyncio).
#include "echo_server.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

constexpr const char* kPort = "7000";

class ShimEpoll : public PreloadTest {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    user_config_ = write_user_config("  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                                     "  - {match: {}, use: [blue]}\n",
                                     "user.yaml");  // adds the user path the server needs
    server_ = std::make_unique<EchoServer>(topo_->srv(), std::vector<std::string>{kBlueServer, kUserServer0}, 7000);
  }
  void TearDown() override { server_.reset(); }

  const std::string& user_config() const { return user_config_; }

  // Every fact of the epoll-first probe held.
  void expect_everything_held(const Outcome& o, const std::string& stack) {
    ASSERT_TRUE(exited_with(o, 0));
    const auto f = facts(o.out);
    for (const char* fact : {"et_out", "et_data", "lt_data", "dup_data", "oneshot_once", "removed_silent", "owner",
                             "sig", "async", "sigio"})
      EXPECT_EQ(f.count(fact) ? f.at(fact) : "missing", "1") << fact << "\n" << o.out << o.err;
    EXPECT_EQ(f.at("stack"), stack);
  }

  std::string user_config_;
  std::unique_ptr<EchoServer> server_;
};

TEST_F(ShimEpoll, RegistrationsAndOwnerMadeBeforeConnectFollowTheSocketToAKernelInstance) {
  // The first socket of a program has no prediction: it is made at home and re-created in blue's namespace.
  const Outcome o = run_dmm(default_config(), probe({"epoll-first", kBlueServer, kPort}));
  expect_everything_held(o, "blue");
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kBlueClient}));
  const auto lines = json_lines(read_text(log_));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(lines[0].contains("epoll_refused")) << lines[0];
}

TEST_F(ShimEpoll, RegistrationsAndOwnerMadeBeforeConnectFollowTheSessionToAnLwipInstance) {
  const Outcome o = run_dmm(user_config(), probe({"epoll-first", kUserServer0, kPort}));
  expect_everything_held(o, "user0");
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kUserClient0}));
}

TEST_F(ShimEpoll, AnEpollSetInheritedOverForkReportsTheChildsConnection) {
  const Outcome o = run_dmm(default_config(), probe({"epoll-fork", kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("child_out"), "1");
  EXPECT_EQ(f.at("child_data"), "1");
  EXPECT_EQ(f.at("child_stack"), "blue");
}

TEST_F(ShimEpoll, PythonEpollRegisteredBeforeConnectHearsOfTheConnection) {
  // The reproduction in the issue, on a kernel instance and on an lwip-dpdk instance.
  for (const auto& [config, server] : {std::pair{default_config(), kBlueServer}, std::pair{user_config(), kUserServer0}}) {
    const Outcome o =
        run_dmm(config, {"/usr/bin/python3", test_program("register_before_connect.py"), "epoll", server, kPort});
    ASSERT_TRUE(exited_with(o, 0)) << server;
    EXPECT_EQ(facts(o.out)["connected_event"], "1") << o.out;
    EXPECT_EQ(facts(o.out)["echo"], "1") << o.out;
  }
}

TEST_F(ShimEpoll, AsyncioConnectionsRegisteredBeforeConnectAllSucceed) {
  for (const auto& [config, server] : {std::pair{default_config(), kBlueServer}, std::pair{user_config(), kUserServer0}}) {
    const Outcome o = run_dmm(
        config, {"/usr/bin/python3", test_program("register_before_connect.py"), "asyncio", server, kPort, "50"});
    ASSERT_TRUE(exited_with(o, 0)) << server;
    EXPECT_EQ(facts(o.out)["good"], "50") << o.out;
  }
}

}  // namespace
}  // namespace dmm::test
