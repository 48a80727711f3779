// Multi-protocol on the kernel: an instance with `protocol: mptcp` carries the program's plain TCP sessions as
// IPPROTO_MPTCP (the program still asked for TCP).
#include <netinet/in.h>

#include "echo_server.hpp"
#include "preload_fixture.hpp"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

namespace dmm::test {
namespace {

const std::string kMptcp = std::to_string(IPPROTO_MPTCP);
const std::string kTcp = std::to_string(IPPROTO_TCP);

TEST_F(PreloadTest, MptcpInstanceOpensTheProgramsTcpAsMptcp) {
  EchoServer server(topo_->srv(), {kBlueServer}, 7300);  // a plain TCP server: MPTCP falls back to TCP with it
  const std::string config = dir_->write("mptcp.yaml", "stacks:\n"
                                         "  - {name: host, kind: kernel}\n"
                                         "  - {name: blue-mp, kind: kernel, netns: " + topo_->blue() + ", protocol: mptcp}\n"
                                         "policy:\n"
                                         "  - {match: {dst: 10.232.1.0/24}, use: [blue-mp]}\n"
                                         "  - {match: {}, use: [host]}\n");
  const Outcome o = run_dmm(config, probe({"tcp", kBlueServer, "7300"}));
  ASSERT_TRUE(exited_with(o, 0));
  EXPECT_EQ(facts(o.out)["stack"], "blue-mp");
  EXPECT_EQ(facts(o.out)["protocol"], kMptcp);

  const Outcome plain = run_dmm(default_config(), probe({"tcp", kBlueServer, "7300"}));
  ASSERT_TRUE(exited_with(plain, 0));
  EXPECT_EQ(facts(plain.out)["protocol"], kTcp);
}

TEST_F(PreloadTest, MptcpOnTheProgramsOwnNamespaceRebindsTheSamePort) {
  // The own-namespace instance cannot keep the placeholder (it is TCP); the MPTCP socket that replaces it must
  // take over its bound address in the same namespace, which only works once the placeholder is gone.
  const std::string config = dir_->write("own-mptcp.yaml", "stacks:\n"
                                         "  - {name: host-mp, kind: kernel, protocol: mptcp}\n"
                                         "policy:\n"
                                         "  - {match: {}, use: [host-mp]}\n");
  const Outcome o = run_dmm(config, probe({"loopback"}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("loopback"), "ok");
  EXPECT_EQ(f.at("listener_stack"), "host-mp");
  EXPECT_EQ(f.at("listener_protocol"), kMptcp);
  EXPECT_EQ(f.at("stack"), "host-mp");
  EXPECT_EQ(f.at("protocol"), kMptcp);
}

void ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  const Outcome o = run(argv);
  ASSERT_TRUE(exited_with(o, 0)) << join(argv);
}

TEST_F(PreloadTest, MptcpSessionOfAPlainTcpProgramGetsSubflowsOverTwoPaths) {
  // A second path between blue and srv (10.232.3.0/24), and MPTCP path managers on both ends: blue opens a
  // subflow from its second address, srv announces its second address.
  const std::string blue = topo_->blue(), srv = topo_->srv();
  ip({"-n", blue, "link", "add", "v2", "type", "veth", "peer", "name", "v2", "netns", srv});
  ip({"-n", blue, "addr", "add", "10.232.3.2/24", "dev", "v2"});
  ip({"-n", srv, "addr", "add", "10.232.3.1/24", "dev", "v2"});
  for (const auto& ns : {blue, srv}) {
    ip({"-n", ns, "link", "set", "v2", "up"});
    ip({"-n", ns, "mptcp", "limits", "set", "subflow", "2", "add_addr_accepted", "2"});
  }
  ip({"-n", blue, "mptcp", "endpoint", "add", "10.232.3.2", "dev", "v2", "subflow"});
  ip({"-n", srv, "mptcp", "endpoint", "add", "10.232.3.1", "dev", "v2", "signal"});
  if (HasFatalFailure()) return;

  // Both programs ask for plain TCP; the server's own-namespace instance and the client's blue instance say
  // `protocol: mptcp`.
  const std::string server_config = dir_->write("server.yaml", "stacks:\n  - {name: srv-mp, kind: kernel, protocol: mptcp}\n"
                                                               "policy:\n  - {match: {}, use: [srv-mp]}\n");
  Child server = Child::spawn(topo_->in(srv, {dmm_run_bin(), "--config", server_config, "--", probe_bin(), "listen", "7400"}));
  const auto ready = server.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(ready.has_value()) << server.wait(std::chrono::seconds(1)).err;
  const std::string client_config = dir_->write("client.yaml", "stacks:\n"
                                                "  - {name: host, kind: kernel}\n"
                                                "  - {name: blue-mp, kind: kernel, netns: " + blue + ", protocol: mptcp}\n"
                                                "policy:\n"
                                                "  - {match: {dst: 10.232.1.0/24}, use: [blue-mp]}\n"
                                                "  - {match: {}, use: [host]}\n");
  const Outcome o = run_dmm(client_config, probe({"mptcp", kBlueServer, "7400"}));
  ASSERT_TRUE(exited_with(o, 0));
  const auto f = facts(o.out);
  EXPECT_EQ(f.at("stack"), "blue-mp");
  EXPECT_EQ(f.at("protocol"), kMptcp);
  EXPECT_GE(std::stoi(f.at("subflows")), 1) << "no additional subflow joined";
  const Outcome served = server.wait(std::chrono::seconds(10));
  ASSERT_TRUE(exited_with(served, 0));
  EXPECT_EQ(facts(served.out)["accepted_protocol"], kMptcp);
}

}  // namespace
}  // namespace dmm::test
