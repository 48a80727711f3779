// (b) An unmodified curl under dmm-run fetches a file from a server only instance `blue` can reach.
#include <random>

#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

std::string sha256_of(const std::string& path) {
  const Outcome o = run({"sha256sum", path}, std::chrono::seconds(10));
  return o.out.substr(0, o.out.find(' '));
}

TEST_F(PreloadTest, UnmodifiedCurlFetchesThroughBlueAndFailsWithoutDmm) {
  // 1 MiB of random bytes, served by python3 -m http.server in the server namespace.
  std::string body(1 << 20, '\0');
  std::mt19937 rng(42);
  for (auto& c : body) c = static_cast<char>(rng());
  const std::string served = dir_->write("file.bin", body);
  Child http = Child::spawn(topo_->in(topo_->srv(), {"/usr/bin/python3", "-u", "-m", "http.server", "--bind",
                                                     kBlueServer, "--directory", dir_->path(), "8080"}));
  // It prints "Serving HTTP on ..." once it is listening: wait for that line, not for a guessed time.
  const auto banner = http.read_line(std::chrono::seconds(15));
  ASSERT_TRUE(banner.has_value() && banner->find("Serving HTTP") != std::string::npos)
      << http.wait(std::chrono::seconds(1)).err;
  const std::string url = std::string("http://") + kBlueServer + ":8080/file.bin";

  const Outcome plain = run_plain({"curl", "-sS", "-v", "-o", dir_->file("plain.bin"), url});
  EXPECT_TRUE(exited_with(plain, 7));  // curl's "couldn't connect"
  EXPECT_NE(plain.err.find("Network is unreachable"), std::string::npos) << plain.err;

  const Outcome o = run_dmm(default_config(), {"curl", "-sS", "-o", dir_->file("fetched.bin"), url});
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(sha256_of(dir_->file("fetched.bin")), sha256_of(served));
  EXPECT_NE(read_text(log_).find("\"stack\":\"blue\""), std::string::npos) << read_text(log_);
}

}  // namespace
}  // namespace dmm::test
