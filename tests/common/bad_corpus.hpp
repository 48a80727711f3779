#pragma once
// The bad-input corpora (tests/bad-scenarios, tests/backends/bad-configs, tests/nrd/bad-configs): the first line of
// each file says where its loader must fail and what the message must contain, `# expect: LINE:COL: substring`.
// One checker for every loader: it must fail (EINVAL), fast, with `FILE:LINE:COL: ` and the substring.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace dmm::test {

struct CorpusExpectation {
  int line = 0;
  int column = 0;
  std::string substring;
};

inline std::optional<CorpusExpectation> read_corpus_expectation(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string first;
  std::getline(in, first);
  static const std::regex kHeader(R"(^# expect: (\d+):(\d+): (.+)$)");
  std::smatch m;
  if (!std::regex_match(first, m, kHeader)) return std::nullopt;
  return CorpusExpectation{std::stoi(m[1]), std::stoi(m[2]), m[3]};
}

// The *.yaml files directly in `dir`, sorted (none if it is not a directory).
inline std::vector<std::filesystem::path> yaml_files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

// `load(path)` returns a Result of the loader; every file of `dir` must fail where its first line says.
template <typename Load>
void expect_every_file_fails_where_it_says(const std::filesystem::path& dir, std::size_t at_least, Load&& load) {
  const auto files = yaml_files_in(dir);
  EXPECT_GE(files.size(), at_least) << dir;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    const auto expected = read_corpus_expectation(path);
    ASSERT_TRUE(expected) << "first line must be `# expect: LINE:COL: substring`";
    const auto started = std::chrono::steady_clock::now();
    auto r = load(path.string());
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << "bad input must fail fast";
    ASSERT_FALSE(r.ok()) << "loaded without error";
    EXPECT_EQ(r.error().code, EINVAL);
    const std::string prefix =
        path.string() + ":" + std::to_string(expected->line) + ":" + std::to_string(expected->column) + ": ";
    EXPECT_EQ(r.error().message.rfind(prefix, 0), 0u) << "message: " << r.error().message;
    EXPECT_NE(r.error().message.find(expected->substring), std::string::npos) << "message: " << r.error().message;
  }
}

}  // namespace dmm::test
