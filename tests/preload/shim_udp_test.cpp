// (a) The shim with a C client under dmm-run: UDP without connect decides on the first send.
#include "echo_server.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

TEST_F(PreloadTest, UdpSendtoChoosesAnInstancePerDestination) {
  EchoServer server(topo_->srv(), {kBlueServer, kRedServer}, 7001);
  const Outcome plain = run_plain(probe({"udp", kBlueServer, "7001", kRedServer, "7001"}));
  EXPECT_TRUE(exited_with(plain, 3));
  EXPECT_EQ(facts(plain.out)["error"], "sendto:ENETUNREACH");

  const Outcome o = run_dmm(default_config(), probe({"udp", kBlueServer, "7001", kRedServer, "7001"}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("before_send"), "-ENOTCONN");  // no destination yet, no decision yet
  EXPECT_EQ(f.at("stack1"), "blue");            // sendto
  EXPECT_EQ(f.at("stack2"), "red");             // sendmsg
  EXPECT_EQ(server.peers(), (std::set<std::string>{kBlueClient, kRedClient}));
}

}  // namespace
}  // namespace dmm::test

namespace dmm::test {
namespace {

TEST_F(PreloadTest, UdpServerPortDecidesAtBind) {
  // A UDP socket bound to a fixed port must receive in its instance's namespace before it ever sends.
  const std::string config = write_config("  - {match: {port: 7200}, use: [blue]}\n"
                                          "  - {match: {}, use: [host]}\n");
  Child server = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config, "--", probe_bin(), "udp-server", "7200"}));
  const auto bound = server.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(bound.has_value()) << server.wait(std::chrono::seconds(1)).err;
  EXPECT_EQ(facts(*bound)["stack"], "blue");
  // From the server namespace, blue's address reaches the program's socket.
  const Outcome client = run(topo_->in(topo_->srv(), probe({"udp", kBlueClient, "7200"})));
  EXPECT_TRUE(exited_with(client, 0));
  const Outcome served = server.wait(std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(served, 0));
  EXPECT_EQ(facts(served.out)["served"], "1");
}

}  // namespace
}  // namespace dmm::test
