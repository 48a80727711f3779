// Placement prediction (Shim::predicted_stack): socket() makes a plain TCP socket directly on the stack the last
// connect decision chose, so that a decision for the same stack has nothing to re-create. Whether the guess is
// right or wrong, the program must see exactly what it sees without a guess.
#include "echo_server.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

constexpr const char* kPort = "7000";

class ShimPrediction : public PreloadTest {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    server_ = std::make_unique<EchoServer>(topo_->srv(), std::vector<std::string>{kBlueServer, kRedServer}, 7000);
  }
  void TearDown() override { server_.reset(); }

  std::vector<bool> predicted_flags() {
    std::vector<bool> flags;
    for (const auto& line : json_lines(read_text(log_))) flags.push_back(line.value("predicted", false));
    return flags;
  }

  std::unique_ptr<EchoServer> server_;
};

TEST_F(ShimPrediction, LaterConnectionsAreMadeOnThePredictedStackWithTheirOptions) {
  const std::string config = write_config("  - {match: {}, use: [blue]}\n");
  const Outcome o = run_dmm(config, probe({"sequence", kBlueServer, kPort, kBlueServer, kPort, kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  for (const char* n : {"1", "2", "3"}) {
    EXPECT_EQ(f.at(std::string("stack") + n), "blue");
    EXPECT_EQ(f.at(std::string("nodelay") + n), "1");  // set on the predicted socket itself
    EXPECT_EQ(f.at(std::string("rcvbuf") + n), "1");
  }
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kBlueClient}));
  // The first socket had nothing to go by; the next two were made in blue's namespace by socket().
  EXPECT_EQ(predicted_flags(), (std::vector<bool>{false, true, true})) << read_text(log_);
}

TEST_F(ShimPrediction, AWrongGuessIsCorrectedByTheDecision) {
  // blue, red, blue: the second socket is guessed blue but belongs on red, the third guessed red but is blue's.
  const Outcome o =
      run_dmm(default_config(), probe({"sequence", kBlueServer, kPort, kRedServer, kPort, kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("stack1"), "blue");
  EXPECT_EQ(f.at("stack2"), "red");
  EXPECT_EQ(f.at("stack3"), "blue");
  for (const char* n : {"1", "2", "3"}) {
    EXPECT_EQ(f.at(std::string("nodelay") + n), "1");  // replayed onto the re-created socket
    EXPECT_EQ(f.at(std::string("rcvbuf") + n), "1");
  }
  EXPECT_EQ(server_->peers(), (std::set<std::string>{kBlueClient, kRedClient}));
  EXPECT_EQ(predicted_flags(), (std::vector<bool>{false, false, false})) << read_text(log_);
}

TEST_F(ShimPrediction, CanBeTurnedOff) {
  const std::string config = write_config("  - {match: {}, use: [blue]}\n");
  const Outcome o = run_dmm(config, {"env", "DMM_PREDICT=off", probe_bin(), "sequence", kBlueServer, kPort,
                                     kBlueServer, kPort});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out).at("stack2"), "blue");
  EXPECT_EQ(predicted_flags(), (std::vector<bool>{false, false})) << read_text(log_);
}

TEST_F(ShimPrediction, BindToAnAddressOnlyTheProgramsNamespaceHasStillWorks) {
  // 10.232.9.9 exists in the client's namespace only. The second socket is guessed onto blue, where binding to
  // it fails; the shim moves the socket home and binds there, as the program expects.
  const Outcome added = run({"ip", "-n", topo_->cli(), "addr", "add", "10.232.9.9/32", "dev", "lo"});
  ASSERT_TRUE(exited_with(added, 0));
  const std::string config = write_config("  - {match: {}, use: [blue]}\n");
  const Outcome o = run_dmm(config, probe({"bind-local", kBlueServer, kPort, "10.232.9.9"}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["bind"], "0");
  EXPECT_EQ(facts(o.out)["local"], "10.232.9.9");
}

TEST_F(ShimPrediction, SocketsMadeBySignalHandlersStayInTheProgramsNamespace) {
  // While socket() is inside blue's namespace making a predicted socket, a timer's handler makes sockets too:
  // they must be made in the program's own namespace, however often the handler lands inside that window.
  const std::string config = write_config("  - {match: {}, use: [blue]}\n");
  const Outcome o = run_dmm(config, probe({"signal-sockets", kBlueServer, kPort, "300"}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("stack"), "blue");
  EXPECT_EQ(f.at("elsewhere"), f.at("made"));  // every loop socket was predicted into blue's namespace
  EXPECT_GT(std::stoi(f.at("handled")), 100);
  EXPECT_EQ(f.at("wrong"), "0");
}

TEST_F(ShimPrediction, ANumberReusedBehindTheShimsBackIsNeverTakenForTheSocketThatHadIt) {
  // A record's identity is taken when a decision is about to replace the socket (not at socket(): most sockets are
  // kept where they were made). A socket closed by a raw system call leaves a stale record; the file or the
  // received socket that reuses its number must be left alone — the file by the identity check, the received
  // socket because recvmsg forgets records of what arrives by SCM_RIGHTS.
  const std::string config = write_config("  - {match: {}, use: [blue]}\n");
  const Outcome o = run_dmm(config, probe({"stale", kBlueServer, kPort}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("file_connect"), "ENOTSOCK");  // the kernel's answer for a file, not a socket put in its place
  EXPECT_EQ(f.at("still_null"), "1");
  EXPECT_EQ(f.at("received_connect"), "ENETUNREACH");  // used as it is: from the client's namespace, no route
  EXPECT_EQ(f.at("received_stack"), "-EOPNOTSUPP");    // not DMM's
}

}  // namespace
}  // namespace dmm::test
