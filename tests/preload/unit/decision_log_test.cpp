#include "decision_log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace dmm::preload {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class DecisionLogTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dmmp-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/decisions.jsonl";
  }
  void TearDown() override {
    unlink(path_.c_str());
    unlink((dir_ + "/other").c_str());
    rmdir(dir_.c_str());
  }
  DecisionLine line(std::string_view stack) {
    DecisionLine l;
    l.fd = 7;
    l.event = "connect";
    l.dst = "10.0.0.1:80";
    l.proto = "tcp";
    l.intent = "latency";
    l.stack = stack;
    l.rule = 2;
    l.policy_version = 5;
    return l;
  }
  std::string dir_, path_;
};

TEST_F(DecisionLogTest, EachDecisionIsOneJsonObjectOnItsOwnLine) {
  DecisionLog log;
  ASSERT_TRUE(log.open(path_));
  log.write(line("blue"));
  DecisionLine none = line("");
  none.error = "no policy rule matches";
  none.fallback_from = "red";
  none.options_refused = 2;
  log.write(none);
  std::istringstream in(read_all(path_));
  std::string first, second, extra;
  ASSERT_TRUE(std::getline(in, first) && std::getline(in, second));
  EXPECT_FALSE(std::getline(in, extra));
  const auto a = nlohmann::json::parse(first);
  EXPECT_EQ(a["stack"], "blue");
  EXPECT_EQ(a["dst"], "10.0.0.1:80");
  EXPECT_EQ(a["rule"], 2);
  EXPECT_EQ(a["policy_version"], 5);
  EXPECT_EQ(a["intent"], "latency");
  EXPECT_EQ(a["pid"], getpid());
  const auto b = nlohmann::json::parse(second);
  EXPECT_TRUE(b["stack"].is_null());
  EXPECT_EQ(b["fallback_from"], "red");
  EXPECT_EQ(b["options_refused"], 2);
}

TEST_F(DecisionLogTest, ALocalHealthLineNamesTheStackAndWhyAndNoSession) {
  DecisionLog log;
  ASSERT_TRUE(log.open(path_));
  DecisionLine mark;
  mark.event = "local-health";
  mark.stack = "blue";
  mark.healthy = 0;
  mark.why = "2 set-up failures in a row; the last: no answer within 201ms (lost a race)";
  log.write(mark);
  const auto j = nlohmann::json::parse(read_all(path_));
  EXPECT_EQ(j["event"], "local-health");
  EXPECT_EQ(j["stack"], "blue");
  EXPECT_EQ(j["healthy"], false);
  EXPECT_EQ(j["why"], "2 set-up failures in a row; the last: no answer within 201ms (lost a race)");
  EXPECT_EQ(j["fd"], -1);
  for (const char* absent : {"dst", "proto", "intent", "rule", "policy_version"})
    EXPECT_FALSE(j.contains(absent)) << absent;
}

TEST_F(DecisionLogTest, NamesFromAConfigAreEscaped) {
  DecisionLog log;
  ASSERT_TRUE(log.open(path_));
  log.write(line("we\"ird\\name\n"));
  const auto j = nlohmann::json::parse(read_all(path_));
  EXPECT_EQ(j["stack"], "we\"ird\\name\n");
}

TEST_F(DecisionLogTest, ClosingOrReusingTheLogFdBehindItsBackNeverWritesIntoTheProgramsFile) {
  DecisionLog log;
  ASSERT_TRUE(log.open(path_));
  log.write(line("one"));
  // The program closes every fd it does not know (close_range, or a loop the shim sees) and opens a file that
  // gets the same number.
  int log_fd = -1;
  for (int fd = 3; fd < 1024; ++fd) {
    std::string target(256, '\0');
    const ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target.data(), target.size());
    if (n > 0 && target.substr(0, static_cast<std::size_t>(n)) == path_) log_fd = fd;
  }
  ASSERT_GE(log_fd, 512);  // kept away from the numbers programs use
  close(log_fd);
  const int other = open((dir_ + "/other").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_EQ(dup2(other, log_fd), log_fd);
  close(other);
  log.write(line("two"));
  EXPECT_EQ(read_all(dir_ + "/other"), "");
  const std::string text = read_all(path_);
  EXPECT_NE(text.find("\"stack\":\"two\""), std::string::npos) << text;  // reopened by path
  close(log_fd);
}

TEST_F(DecisionLogTest, AnUnwritablePathLeavesTheLogOff) {
  DecisionLog log;
  EXPECT_FALSE(log.open(dir_ + "/no-such-dir/x.jsonl"));
  EXPECT_FALSE(log.enabled());
  log.write(line("x"));  // harmless
}

}  // namespace
}  // namespace dmm::preload
