// Real proxies under dmm-run (issue 11): an nginx reverse proxy and haproxy in the client namespace, their
// upstream connections placed by the policy on a kernel instance in another namespace (blue) or on an lwip-dpdk
// instance (user0), and every request through them succeeds. nginx registers each upstream socket with epoll
// before it connects (socket, epoll_ctl ADD EPOLLET, connect); with DMM_PREDICT=off every one of them is
// re-created by the shim, so each request depends on its registration following the socket.
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "listening.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {
namespace {

constexpr std::uint16_t kProxyPort = 8081;
constexpr int kRequests = 40;

class ShimProxies : public PreloadTest {
protected:
  void SetUp() override {
    PreloadTest::SetUp();
    config_ = write_user_config("  - {match: {dst: 10.232.1.0/24}, use: [blue]}\n"
                                "  - {match: {dst: 10.232.3.0/24}, use: [user0]}\n"
                                "  - {match: {}, use: [host]}\n");
    served_ = write_random_file(*dir_, "file.bin", 64 << 10);
    http_ = std::make_unique<Child>(start_http_server(*topo_, topo_->srv(), "0.0.0.0", dir_->path(), "8080"));
  }
  void TearDown() override { http_.reset(); }

  // nginx.conf for a reverse proxy on 127.0.0.1:8081 of the client namespace: /blue/ to the server over blue,
  // /user/ over user0. `processes`: the master_process/user lines.
  std::string nginx_config(const std::string& processes) {
    const std::string d = dir_->path();
    return dir_->write("nginx.conf", "daemon off;\n" + processes + "pid " + d + "/nginx.pid;\n"
                       "error_log stderr warn;\n"
                       "events { worker_connections 256; }\n"
                       "http {\n"
                       "  access_log off;\n"
                       "  client_body_temp_path " + d + "/body; proxy_temp_path " + d + "/proxy;\n"
                       "  fastcgi_temp_path " + d + "/fastcgi; uwsgi_temp_path " + d + "/uwsgi; scgi_temp_path " + d + "/scgi;\n"
                       "  proxy_buffering off;\n"
                       "  server {\n"
                       "    listen 127.0.0.1:8081;\n"
                       "    location /blue/ { proxy_pass http://10.232.1.1:8080/; }\n"
                       "    location /user/ { proxy_pass http://10.232.3.1:8080/; }\n"
                       "  }\n"
                       "}\n");
  }

  // `count` requests for /PREFIX/file.bin through the proxy on `port`, 8 at a time, from a plain curl in the
  // client namespace; returns how many came back 200 with the whole file.
  int fetch_through_proxy(std::uint16_t port, const std::vector<std::string>& prefixes, int count) {
    std::vector<std::string> argv{"curl", "-sS", "-Z", "--parallel-max", "8", "-w", "%{http_code} %{size_download}\\n"};
    for (int i = 0; i < count; ++i) {
      argv.insert(argv.end(), {"-o", "/dev/null",
                               "http://127.0.0.1:" + std::to_string(port) + "/" + prefixes[i % prefixes.size()] +
                                   "/file.bin"});
    }
    const Outcome o = run_plain(argv);
    EXPECT_TRUE(o.finished) << o.err;
    return occurrences(o.out, "200 65536\n");
  }

  // Connect decisions in the log per stack.
  std::map<std::string, int> connects_by_stack() {
    std::map<std::string, int> by_stack;
    for (const auto& line : json_lines(read_text(log_)))
      if (line["event"] == "connect") ++by_stack[line["stack"].is_null() ? "null" : line["stack"].get<std::string>()];
    return by_stack;
  }

  // The same stacks with dmm-stackd's socket in the test directory (which unprivileged workers may then enter)
  // and blue open to `nobody` through it.
  std::string service_config() {
    ::chmod(dir_->path().c_str(), 0711);
    return dir_->write("service.yaml", "stacks:\n"
                       "  - {name: host, kind: kernel}\n"
                       "  - {name: blue, kind: kernel, netns: " + topo_->blue() + ", allow: {users: [nobody]}}\n"
                       "policy:\n"
                       "  - {match: {dst: 10.232.1.0/24}, use: [blue]}\n"
                       "  - {match: {}, use: [host]}\n"
                       "service: {socket: " + dir_->file("stackd.sock") + "}\n");
  }

  // dmm-stackd for `config`, once its socket is there.
  Child start_stackd(const std::string& config) {
    Child daemon = Child::spawn(topo_->in_cli({stackd_bin(), "--config", config}));
    for (int i = 0; i < 500 && !std::filesystem::exists(dir_->file("stackd.sock")); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(std::filesystem::exists(dir_->file("stackd.sock"))) << daemon.wait(std::chrono::seconds(1)).err;
    return daemon;
  }

  // Connect decisions in the log made by processes other than `pid` (nginx's workers, not its master).
  int connects_not_by(pid_t pid, const std::string& stack) {
    int n = 0;
    for (const auto& line : json_lines(read_text(log_)))
      if (line["event"] == "connect" && line["stack"] == stack && line["pid"] != pid) ++n;
    return n;
  }

  std::string config_;
  std::string served_;
  std::unique_ptr<Child> http_;
};

TEST_F(ShimProxies, NginxReverseProxyWithUpstreamsOnAKernelInstanceAndAnLwipInstance) {
  // One process (master_process off): the user-space instance runs in the process that opened it.
  const std::string conf = nginx_config("master_process off;\n");
  Child nginx = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--log", log_, "--", "env",
                                            "DMM_PREDICT=off", "nginx", "-e", "stderr", "-p", dir_->path(), "-c",
                                            conf}));
  ASSERT_TRUE(wait_until_listening(topo_->cli(), "127.0.0.1", kProxyPort)) << nginx.wait(std::chrono::seconds(1)).err;
  EXPECT_EQ(fetch_through_proxy(kProxyPort, {"blue", "user"}, kRequests), kRequests);
  nginx.kill_group();
  const auto by_stack = connects_by_stack();
  EXPECT_EQ(by_stack.count("blue") ? by_stack.at("blue") : 0, kRequests / 2) << read_text(log_);
  EXPECT_EQ(by_stack.count("user0") ? by_stack.at("user0") : 0, kRequests / 2) << read_text(log_);
}

TEST_F(ShimProxies, NginxWorkersRunningAsNobodyGetTheirUpstreamSocketsFromDmmStackd) {
  // master + 2 workers as nobody: the workers may not enter blue's namespace (setns needs CAP_SYS_ADMIN), so
  // every upstream socket comes from dmm-stackd, which admits nobody for blue (allow:).
  const std::string config = service_config();
  const std::string conf = nginx_config("master_process on;\nworker_processes 2;\nuser nobody nogroup;\n");
  auto start_nginx = [&] {
    return Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config, "--log", log_, "--", "nginx", "-e",
                                       "stderr", "-p", dir_->path(), "-c", conf}));
  };
  {
    // Without the service: every request fails (502), and nginx's stderr says why, naming dmm-stackd.
    Child nginx = start_nginx();
    ASSERT_TRUE(wait_until_listening(topo_->cli(), "127.0.0.1", kProxyPort)) << nginx.wait(std::chrono::seconds(1)).err;
    EXPECT_EQ(fetch_through_proxy(kProxyPort, {"blue"}, 4), 0);
    nginx.kill_group();
    const Outcome o = nginx.wait(std::chrono::seconds(5));
    EXPECT_NE(o.err.find("dmm-stackd"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("uid 65534"), std::string::npos) << o.err;
  }
  Child stackd = start_stackd(config);
  Child nginx = start_nginx();
  ASSERT_TRUE(wait_until_listening(topo_->cli(), "127.0.0.1", kProxyPort)) << nginx.wait(std::chrono::seconds(1)).err;
  EXPECT_EQ(fetch_through_proxy(kProxyPort, {"blue"}, kRequests), kRequests);
  nginx.kill_group();
  EXPECT_EQ(connects_not_by(nginx.pid(), "blue"), kRequests) << read_text(log_);
}

TEST_F(ShimProxies, HaproxyWithItsServerOnAKernelInstance) {
  const std::string cfg = dir_->write("haproxy.cfg",
                                      "global\n  maxconn 256\n"
                                      "defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n"
                                      "  timeout server 10s\n  option httpclose\n  http-reuse never\n"
                                      "frontend fe\n  bind 127.0.0.1:8082\n  default_backend be\n"
                                      "backend be\n  server blue 10.232.1.1:8080\n");
  Child haproxy = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config_, "--log", log_, "--", "env",
                                              "DMM_PREDICT=off", "haproxy", "-db", "-f", cfg}));
  ASSERT_TRUE(wait_until_listening(topo_->cli(), "127.0.0.1", 8082)) << haproxy.wait(std::chrono::seconds(1)).err;
  EXPECT_EQ(fetch_through_proxy(8082, {"."}, kRequests), kRequests);  // /./file.bin is /file.bin
  haproxy.kill_group();
  EXPECT_EQ(connects_by_stack()["blue"], kRequests) << read_text(log_);
}

}  // namespace
}  // namespace dmm::test

namespace dmm::test {
namespace {

TEST_F(ShimProxies, HaproxyRunningAsNobodyGetsItsServerSocketsFromDmmStackd) {
  const std::string config = service_config();
  const std::string cfg = dir_->write("haproxy.cfg",
                                      "global\n  maxconn 256\n  user nobody\n  group nogroup\n"
                                      "defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n"
                                      "  timeout server 10s\n  option httpclose\n  http-reuse never\n"
                                      "frontend fe\n  bind 127.0.0.1:8082\n  default_backend be\n"
                                      "backend be\n  server blue 10.232.1.1:8080\n");
  Child stackd = start_stackd(config);
  Child haproxy = Child::spawn(topo_->in_cli({dmm_run_bin(), "--config", config, "--log", log_, "--", "haproxy",
                                              "-db", "-f", cfg}));
  ASSERT_TRUE(wait_until_listening(topo_->cli(), "127.0.0.1", 8082)) << haproxy.wait(std::chrono::seconds(1)).err;
  EXPECT_EQ(fetch_through_proxy(8082, {"."}, kRequests), kRequests);
  haproxy.kill_group();
  EXPECT_EQ(connects_by_stack()["blue"], kRequests) << read_text(log_);
}

}  // namespace
}  // namespace dmm::test
