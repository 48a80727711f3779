// (c) Bad input: dmm-run refuses before starting the program; the shim, given a bad DMM_CONFIG by hand inside
// a running program, warns once and passes everything through.
#include <unistd.h>

#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

// dmm-run must not start the program: `touch MARKER` would leave a file.
class DmmRun : public ::testing::Test {
protected:
  Outcome run_with_config(const std::string& config) {
    return run({dmm_run_bin(), "--config", config, "--", "touch", marker()});
  }
  std::string marker() const { return dir_.file("program-ran"); }
  bool program_ran() const { return access(marker().c_str(), F_OK) == 0; }
  TempDir dir_;
};

TEST_F(DmmRun, HelpExitsZero) {
  const Outcome o = run({dmm_run_bin(), "--help"});
  EXPECT_TRUE(exited_with(o, 0));
  EXPECT_NE(o.out.find("--config"), std::string::npos);
  EXPECT_NE(o.out.find("--intent"), std::string::npos);
}

TEST_F(DmmRun, UsageErrorsExitTwo) {
  EXPECT_TRUE(exited_with(run({dmm_run_bin(), "--bogus", "--", "true"}), 2));
  EXPECT_TRUE(exited_with(run({dmm_run_bin(), "--config", dir_.write("ok.yaml", "stacks: []\n")}), 2));
}

TEST_F(DmmRun, MissingConfigExitsTwoWithoutStartingTheProgram) {
  const Outcome o = run_with_config(dir_.file("no-such.yaml"));
  EXPECT_TRUE(exited_with(o, 2));
  EXPECT_NE(o.err.find("no-such.yaml"), std::string::npos) << o.err;
  EXPECT_FALSE(program_ran());
}

TEST_F(DmmRun, InvalidConfigExitsTwoWithFileLineColumn) {
  const std::string config = dir_.write("bad.yaml", "stacks:\n  - {name: host, kind: kernel}\n"
                                                    "policy:\n  - {match: {}, use: [nowhere]}\n");
  const Outcome o = run_with_config(config);
  EXPECT_TRUE(exited_with(o, 2));
  EXPECT_EQ(o.err.rfind(config + ":4:", 0), 0u) << o.err;  // FILE:LINE:COL: what is wrong
  EXPECT_FALSE(program_ran());
}

TEST_F(DmmRun, ConfigNamingAMissingNamespaceExitsTwoNamingIt) {
  const std::string config = dir_.write("ns.yaml", "stacks:\n  - {name: host, kind: kernel}\n"
                                                   "  - {name: blue, kind: kernel, netns: dmmp-no-such-ns}\n"
                                                   "policy:\n  - {match: {}, use: [blue, host]}\n");
  const Outcome o = run_with_config(config);
  EXPECT_TRUE(exited_with(o, 2));
  EXPECT_NE(o.err.find(config + ":3:"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("dmmp-no-such-ns"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("does not exist"), std::string::npos) << o.err;
  EXPECT_FALSE(program_ran());
}

TEST_F(DmmRun, UnknownIntentExitsTwo) {
  const std::string config = dir_.write("ok.yaml", "stacks:\n  - {name: host, kind: kernel}\n"
                                                   "policy:\n  - {match: {}, use: [host]}\n");
  const Outcome o = run({dmm_run_bin(), "--config", config, "--intent", "speedy", "--", "touch", marker()});
  EXPECT_TRUE(exited_with(o, 2));
  EXPECT_FALSE(program_ran());
}

TEST_F(DmmRun, ProgramNotFoundExits127LikeAShell) {
  const std::string config = dir_.write("ok.yaml", "stacks:\n  - {name: host, kind: kernel}\n"
                                                   "policy:\n  - {match: {}, use: [host]}\n");
  const Outcome o = run({dmm_run_bin(), "--config", config, "--", "dmmp-no-such-program"});
  EXPECT_TRUE(exited_with(o, 127));
  EXPECT_NE(o.err.find("dmmp-no-such-program"), std::string::npos) << o.err;
}

TEST_F(DmmRun, ProgramExitCodeIsPassedOn) {
  const std::string config = dir_.write("ok.yaml", "stacks:\n  - {name: host, kind: kernel}\n"
                                                   "policy:\n  - {match: {}, use: [host]}\n");
  EXPECT_TRUE(exited_with(run({dmm_run_bin(), "--config", config, "--", "sh", "-c", "exit 5"}), 5));
  // Without `--`: options end at the first word that is not one, so the program keeps its own flags.
  EXPECT_TRUE(exited_with(run({dmm_run_bin(), "--config", config, "sh", "-c", "exit 6"}), 6));
}

// Inside the client namespace (the probe makes sockets, even if only over loopback).
TEST_F(PreloadTest, UnreadableConfigInARunningProgramWarnsOnceAndPassesThrough) {
  const Outcome o = run_plain({"env", "LD_PRELOAD=" + preload_library(), "DMM_CONFIG=" + dir_->file("missing.yaml"),
                               probe_bin(), "loopback"});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["loopback"], "ok");
  EXPECT_EQ(facts(o.out)["stack"], "-EOPNOTSUPP");  // not managed: the kernel's answer to SOL_DMM
  // Exactly one line on stderr, and it is the shim's.
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.err.rfind("dmm-preload: ", 0), 0u) << o.err;
  EXPECT_NE(o.err.find("missing.yaml"), std::string::npos) << o.err;

  // An invalid one behaves the same.
  const std::string bad = dir_->write("bad.yaml", "stacks: [\n");
  const Outcome b = run_plain({"env", "LD_PRELOAD=" + preload_library(), "DMM_CONFIG=" + bad, probe_bin(), "loopback"});
  ASSERT_TRUE(exited_with(b, 0));
  EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << b.err;
}

TEST_F(PreloadTest, PassThroughPolicyKeepsLoopbackWorkingOnTheHostInstance) {
  const std::string config = write_config("  - {match: {}, use: [host]}\n");
  const Outcome o = run_dmm(config, probe({"loopback"}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["loopback"], "ok");
  EXPECT_EQ(facts(o.out)["stack"], "host");
  EXPECT_EQ(o.err, "");
}

}  // namespace
}  // namespace dmm::test
