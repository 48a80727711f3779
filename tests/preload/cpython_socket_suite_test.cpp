// Python's own socket behaviour under the shim: CPython's socket suite (Debian libpython3.11-testsuite), run by
// its own runner (network resources off) in loopback-only namespaces, three times at once (it mostly waits on
// timeouts, so in parallel it takes as long as once):
//   plain        - no DMM: the reference;
//   pass-through - dmm-run with a policy that keeps every socket on the program's own namespace instance;
//   re-created   - dmm-run with an instance whose netns *is* the program's namespace, so that every TCP/UDP
//                  socket is re-created through setns + option replay + dup3 before its first connect, sendto or
//                  listen: the whole placement path under CPython's expectations of a socket.
// All three must run the same tests with the same outcome. VSOCK is ignored: it is not namespaced (its tests
// touch the machine's own vsock and fail with EADDRINUSE, with or without DMM).
#include <set>
#include <sstream>

#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

struct SuiteResult {
  std::string summary;          // "Ran 712 tests" + "OK (skipped=104)"
  std::set<std::string> passed;  // "testName (module.Class.testName)" of every "... ok" line
};

// Line by line (no std::regex: GCC 12 warns inside <regex> in the sanitizer build).
SuiteResult summarize(const Outcome& o) {
  SuiteResult r;
  std::istringstream in(o.out + o.err);
  std::string line, ran, verdict;
  const std::string ok = " ... ok";
  while (std::getline(in, line)) {
    if (line.rfind("Ran ", 0) == 0) ran = line.substr(0, line.find(" tests") + 6);
    if (line.rfind("OK", 0) == 0 || line.rfind("FAILED", 0) == 0) verdict = line;
    // "testName (module.Class.testName) ... ok"
    if (line.rfind("test", 0) == 0 && line.size() > ok.size() && line.compare(line.size() - ok.size(), ok.size(), ok) == 0)
      r.passed.insert(line.substr(0, line.size() - ok.size()));
  }
  r.summary = ran + " / " + verdict;
  return r;
}

std::string tail(const std::string& text) { return text.substr(text.size() > 4000 ? text.size() - 4000 : 0); }

std::vector<std::string> suite_command() {
  return {"/usr/bin/python3", "-m", "test", "-v", "test_socket", "--ignore", "*VSOCK*"};
}

TEST(CpythonSocketSuite, SameResultsWithoutDmmWithPassThroughAndWithEverySocketRecreated) {
  if (run({"/usr/bin/python3", "-c", "import test.test_socket"}).exit_code != 0)
    FAIL() << "CPython's test suite is not installed (Debian package libpython3.11-testsuite; setup.sh installs it)";
  LoopbackNamespace plain_ns("py-plain"), pass_ns("py-pass"), same_ns("py-same");
  TempDir dir;
  const std::string pass_config = dir.write("pass.yaml", "stacks:\n  - {name: host, kind: kernel}\n"
                                                         "policy:\n  - {match: {}, use: [host]}\n");
  const std::string same_config = dir.write("same.yaml", "stacks:\n  - {name: same, kind: kernel, netns: " +
                                                             same_ns.name() + "}\npolicy:\n  - {match: {}, use: [same]}\n");
  auto in = [](const std::string& ns, std::vector<std::string> command) {
    command.insert(command.begin(), {"ip", "netns", "exec", ns});
    return command;
  };
  auto under_dmm = [&](const std::string& config, const std::string& log) {
    std::vector<std::string> argv{dmm_run_bin(), "--config", config, "--log", log, "--"};
    const auto suite = suite_command();
    argv.insert(argv.end(), suite.begin(), suite.end());
    return argv;
  };
  // (The runner works in a scratch directory of its own under /tmp: the three runs do not meet.)
  Child plain = Child::spawn(in(plain_ns.name(), suite_command()));
  Child pass = Child::spawn(in(pass_ns.name(), under_dmm(pass_config, dir.file("pass.jsonl"))));
  Child same = Child::spawn(in(same_ns.name(), under_dmm(same_config, dir.file("same.jsonl"))));
  const auto limit = std::chrono::seconds(150);
  const SuiteResult reference = summarize(plain.wait(limit));
  const Outcome pass_outcome = pass.wait(limit);
  const Outcome same_outcome = same.wait(limit);
  const SuiteResult with_pass = summarize(pass_outcome);
  const SuiteResult with_same = summarize(same_outcome);

  ASSERT_NE(reference.summary.find("OK"), std::string::npos) << "the plain run itself failed: " << reference.summary;
  EXPECT_EQ(with_pass.summary, reference.summary) << tail(pass_outcome.out);
  EXPECT_EQ(with_same.summary, reference.summary) << tail(same_outcome.out);
  EXPECT_EQ(with_pass.passed, reference.passed);
  EXPECT_EQ(with_same.passed, reference.passed);
  EXPECT_GT(reference.passed.size(), 500u);
  // The re-created run really went through the shim: hundreds of decisions, all on `same`.
  const std::string log = read_text(dir.file("same.jsonl"));
  EXPECT_GT(std::count(log.begin(), log.end(), '\n'), 300) << log.substr(0, 2000);
  EXPECT_EQ(log.find("\"stack\":null"), std::string::npos) << log.substr(0, 2000);
}

}  // namespace
}  // namespace dmm::test
