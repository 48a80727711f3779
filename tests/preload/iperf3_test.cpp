// An unmodified iperf3 client under dmm-run picks its instance by a port rule; the iperf3 server sees from which
// instance's address the connection came.
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

TEST_F(PreloadTest, UnmodifiedIperf3ClientTakesTheInstanceOfItsPortRule) {
  Child server = start_iperf3_server(*topo_, topo_->srv(), "5201");

  // Port 5201 goes over red, everything else over blue: the address alone would have chosen blue.
  const std::string config = write_config("  - {match: {port: 5201, proto: tcp}, use: [red]}\n"
                                          "  - {match: {}, use: [blue]}\n");
  const Outcome client = run_dmm(config, {"iperf3", "-c", kBlueServer, "-p", "5201", "-t", "1", "-J"});
  ASSERT_TRUE(exited_with(client, 0));

  const Outcome served = server.wait(std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(served, 0));
  EXPECT_NE(served.out.find(std::string("Accepted connection from ") + kRedClient), std::string::npos) << served.out;
  // Every connection of the client (control and data) was decided by the port rule.
  const std::string log = read_text(log_);
  EXPECT_GE(occurrences(log, "\"stack\":\"red\""), 2) << log;
  EXPECT_EQ(log.find("\"stack\":\"blue\""), std::string::npos) << log;
}

}  // namespace
}  // namespace dmm::test
