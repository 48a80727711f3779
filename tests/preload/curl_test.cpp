// (b) An unmodified curl under dmm-run fetches a file from a server only instance `blue` can reach.
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

TEST_F(PreloadTest, UnmodifiedCurlFetchesThroughBlueAndFailsWithoutDmm) {
  // 1 MiB of random bytes, served by python3 -m http.server in the server namespace.
  const std::string served = write_random_file(*dir_, "file.bin", 1 << 20);
  Child http = start_http_server(*topo_, topo_->srv(), kBlueServer, dir_->path(), "8080");
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
