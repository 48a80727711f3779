// Two "hosts" (namespaces), each with its own program under dmm-run whose shim syncs from one dmm-nrd over TCP.
//
//   hostA (10.235.1.2) ----veth---- (10.235.1.1) ctrl (10.235.2.1) ----veth---- (10.235.2.2) hostB
//
// dmm-nrd runs in ctrl, listening on TCP (only 10.235.0.0/16 let in) and on its Unix socket (for dmm-ctl). Each
// host has stacks `a` and `b` (kernel instances of its own namespace) and sends sessions to ctrl's echo service.
#include "nrd_system.hpp"

namespace dmm::test {
namespace {

void must_run(const std::vector<std::string>& argv) {
  const Outcome o = run(argv, std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(o, 0)) << join(argv);
}

struct Host {
  std::unique_ptr<LoopbackNamespace> ns;
  std::string config;
  std::string log;
  std::optional<Child> program;
};

TEST(TwoHosts, EachOrchestratorSyncsFromOneDaemonOverTcp) {
  TempDir dir;
  LoopbackNamespace ctrl("ctrl");
  Host hosts[2];
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i + 1);
    hosts[i].ns = std::make_unique<LoopbackNamespace>("host" + n);
    const std::string& h = hosts[i].ns->name();
    must_run({"ip", "-n", ctrl.name(), "link", "add", "c" + n, "type", "veth", "peer", "name", "v0", "netns", h});
    must_run({"ip", "-n", ctrl.name(), "addr", "add", "10.235." + n + ".1/24", "dev", "c" + n});
    must_run({"ip", "-n", h, "addr", "add", "10.235." + n + ".2/24", "dev", "v0"});
    must_run({"ip", "-n", ctrl.name(), "link", "set", "c" + n, "up"});
    must_run({"ip", "-n", h, "link", "set", "v0", "up"});
    hosts[i].config = dir.write("host" + n + ".yaml", "stacks: [{name: a, kind: kernel}, {name: b, kind: kernel}]\n"
                                                      "policy: [{match: {}, use: [a, b]}]\n"
                                                      "nrd: {tcp: 10.235." + n + ".1:7601}\n");
    hosts[i].log = dir.file("decisions" + n + ".jsonl");
  }
  EchoServer echo(ctrl.name(), {"10.235.1.1", "10.235.2.1"}, 7);
  dir.write("ctrl.yaml", "stacks: [{name: a, kind: kernel}, {name: b, kind: kernel}]\n"
                         "policy: [{match: {}, use: [a, b]}]\n");
  const std::string nrd_config = dir.write("nrd.yaml", "host: ctrl.yaml\n"
                                                       "listen: {unix: nrd.sock, tcp: 0.0.0.0:7601, tcp_allow: [10.235.0.0/16]}\n"
                                                       "algorithm: static\n");
  Child daemon = Child::spawn({"ip", "netns", "exec", ctrl.name(), nrd_bin(), "--config", nrd_config});
  const auto ctl = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"ip", "netns", "exec", ctrl.name(), ctl_bin(), "--socket", dir.file("nrd.sock")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, std::chrono::seconds(10));
  };
  const auto status = [&]() -> std::optional<nlohmann::json> {
    const Outcome o = ctl({"status", "--json"});
    if (!o.finished || o.exit_code != 0) return std::nullopt;
    return nlohmann::json::parse(o.out, nullptr, false);
  };
  ASSERT_TRUE(eventually([&] { return status().has_value(); })) << daemon.wait(std::chrono::seconds(1)).err;

  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i + 1);
    hosts[i].program.emplace(Child::spawn(
        {"ip", "netns", "exec", hosts[i].ns->name(), dmm_run_bin(), "--config", hosts[i].config, "--log", hosts[i].log,
         "--", session_loop_bin(), "10.235." + n + ".1", "7", "20", dir.file("stop")}));
  }
  // Both shims subscribed over TCP, one from each host.
  ASSERT_TRUE(eventually([&] {
    const auto s = status();
    if (!s || (*s)["subscribers"] != 2) return false;
    std::set<std::string> from;
    for (const auto& p : (*s)["peers"])
      if (p["transport"] == "tcp" && p["subscribed"] == true) from.insert(p["peer"].get<std::string>().substr(0, 14));
    return from == std::set<std::string>{"tcp 10.235.1.2", "tcp 10.235.2.2"};
  })) << status().value_or(nlohmann::json()).dump(2);

  const std::string b_first = dir.write("b-first.json", R"({"rules": [{"use": ["b", "a"]}]})");
  ASSERT_TRUE(exited_with(ctl({"push", b_first}), 0));
  for (auto& host : hosts) {
    EXPECT_TRUE(eventually([&] {
      std::size_t n = 0;
      for (const auto& d : read_json_lines(host.log)) n += d["policy_version"] == 2 && d["stack"] == "b";
      return n >= 3;
    })) << host.ns->name() << " never decided with version 2";
  }
  dir.write("stop", "");
  for (auto& host : hosts) EXPECT_TRUE(exited_with(host.program->wait(std::chrono::seconds(10)), 0));
  daemon.kill_group();
}

}  // namespace
}  // namespace dmm::test
