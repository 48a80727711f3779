#include "nginx_server.hpp"

#include <filesystem>
#include <fstream>

#include "bench_lab.hpp"

namespace dmm::bench {

Result<BackgroundProcess> start_nginx(const BenchOptions& options, const std::string& netns, const std::string& listen) {
  const std::filesystem::path root = options.work_dir / "www";
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  std::ofstream(root / "index.html") << std::string(99, 'x') << "\n";
  std::filesystem::permissions(root, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                         std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                         std::filesystem::perms::others_exec,
                               ec);
  const std::string d = options.work_dir.string();
  auto conf = write_config(options, "nginx.conf",
                           "daemon off;\nmaster_process off;\npid " + d + "/nginx.pid;\nerror_log stderr error;\n"
                           "events { worker_connections 1024; }\n"
                           "http {\n  access_log off;\n"
                           "  client_body_temp_path " + d + "/body; proxy_temp_path " + d + "/proxy;\n"
                           "  fastcgi_temp_path " + d + "/fcgi; uwsgi_temp_path " + d + "/uwsgi; scgi_temp_path " + d +
                               "/scgi;\n"
                           "  server { listen " + listen + " backlog=4096; root " + root.string() + "; }\n}\n");
  if (!conf) return conf.error();
  return BackgroundProcess::start({"nginx", "-e", "stderr", "-p", d, "-c", conf->string()}, BenchLab::path_of(netns));
}

}  // namespace dmm::bench
