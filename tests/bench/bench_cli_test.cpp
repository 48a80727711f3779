// The micro-benchmarks as programs (issue 12): usage errors exit 2 with a usage message, and dmm-core-bench's
// output follows --benchmark_format. No namespaces, no root: only the command lines.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace {

struct Outcome {
  int exit_code = -1;
  std::string out;  // stdout only, unless the command redirects
};

Outcome run(const std::string& command) {
  Outcome o;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return o;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) o.out.append(buf, n);
  const int status = pclose(pipe);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

const std::string kCore = DMM_CORE_BENCH_BIN;
const std::string kNrd = DMM_NRD_BENCH_BIN;

TEST(CoreBenchCli, UnknownFlagIsAUsageError) {
  const Outcome o = run(kCore + " --bogus 2>&1");
  EXPECT_EQ(o.exit_code, 2) << o.out;  // before: 1
  EXPECT_NE(o.out.find("--bogus"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Usage: dmm-core-bench"), std::string::npos) << o.out;
}

TEST(CoreBenchCli, JsonFormatIsHonoured) {
  // One tiny benchmark; stdout must be JSON only (before: the console table whatever the flag said).
  const Outcome o = run(kCore + " --benchmark_format=json --benchmark_filter='^BM_Select/10/'"
                                " --benchmark_min_time=0.001 2>/dev/null");
  ASSERT_EQ(o.exit_code, 0) << o.out;
  const auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.out;
  ASSERT_TRUE(j.contains("benchmarks"));
  ASSERT_FALSE(j["benchmarks"].empty());
  EXPECT_EQ(j["benchmarks"][0]["run_name"], "BM_Select/10/repeats:5");
}

TEST(NrdBenchCli, BadSubscriberCountsGetAUsageMessage) {
  for (const std::string bad : {"abc", "0", "10x", "1,,10", "1001", ""}) {
    const Outcome o = run(kNrd + " --subscribers '" + bad + "' 2>&1");
    EXPECT_EQ(o.exit_code, 2) << bad << ": " << o.out;
    EXPECT_NE(o.out.find("--subscribers '" + bad + "': expected subscriber counts from 1 to 1000"), std::string::npos)
        << bad << ": " << o.out;  // before: "dmm-nrd-bench: stoi" or "dmm-nrd-bench: 0"
  }
}

}  // namespace
