// The host config dmm.yaml (DESIGN.md §2.5): good configs typed field by field, plug-in kinds through a registry,
// check_host against real namespaces, a corpus of bad configs (tests/backends/bad-configs/*.yaml) that must each
// fail at a stated position with a stated message, and truncated input that must never crash.
#include "dmm/host/host_config.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>

#include "dmm/kernel/kernel_stack.hpp"
#include "dmm/kernel/kernel_stack_kind.hpp"
#include "../common/bad_corpus.hpp"
#include "netns_lab.hpp"

namespace dmm::host {
namespace {

using namespace std::chrono_literals;

// DESIGN.md §2.5's example, plus one of everything else.
constexpr const char* kFull = R"(stacks:                                   # stack instances on this host
  - {name: host, kind: kernel}            # the namespace the program runs in
  - {name: blue, kind: kernel, netns: blue}   # sockets created inside netns "blue"
  - {name: multi, kind: kernel, netns: blue, protocol: mptcp}
  - {name: user0, kind: lwip-dpdk, vdev: "net_af_packet0,iface=dmmu0", address: 10.77.0.2/24, gateway: 10.77.0.1}
policy:                                   # first matching rule wins; first healthy stack in `use` wins
  - {match: {dst: 10.78.0.0/16}, use: [blue]}
  - {match: {port: 5201, proto: tcp}, use: [user0, host]}
  - {match: {dst: "2001:db8::/32", port: 8000-8100, proto: udp, intent: latency}, use: [multi, host]}
  - {match: {}, use: [host]}
nrd: {socket: /run/dmm/nrd.sock}          # optional; without nRD the policy above stays as it is
log: {level: debug, decisions: /run/dmm/decisions.jsonl}   # optional; one line per session decision
)";

Result<HostConfig> load(const std::string& text, const LoadOptions& options = {}) {
  return load_host_config_text(text, "/etc/dmm/dmm.yaml", options);
}

TEST(HostConfig, TheDesignExampleIsTypedFieldByField) {
  auto r = load(kFull);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const HostConfig& c = *r;
  EXPECT_EQ(c.file, "/etc/dmm/dmm.yaml");
  ASSERT_EQ(c.stacks.size(), 4u);

  const StackSpec& host = c.stacks[0];
  EXPECT_EQ(host.name, "host");
  EXPECT_EQ(host.kind, "kernel");
  ASSERT_TRUE(host.kernel);
  EXPECT_FALSE(host.kernel->netns);
  EXPECT_EQ(host.kernel->protocol, KernelProtocol::tcp);
  EXPECT_TRUE(host.params.empty());
  EXPECT_EQ(host.mark.line, 2);
  EXPECT_EQ(host.mark.column, 5);

  const StackSpec& blue = *c.find_stack("blue");
  EXPECT_EQ(blue.kernel->netns, "blue");
  EXPECT_EQ(blue.params.at("netns"), "blue");
  EXPECT_FALSE(blue.lwip_dpdk);
  EXPECT_EQ(c.find_stack("multi")->kernel->protocol, KernelProtocol::mptcp);

  const StackSpec& user0 = *c.find_stack("user0");
  ASSERT_TRUE(user0.lwip_dpdk);
  EXPECT_FALSE(user0.kernel);
  EXPECT_EQ(user0.lwip_dpdk->vdev, "net_af_packet0,iface=dmmu0");
  EXPECT_EQ(user0.lwip_dpdk->address.to_string(), "10.77.0.2/24");  // host bits kept
  EXPECT_EQ(user0.lwip_dpdk->address.subnet().to_string(), "10.77.0.0/24");
  EXPECT_EQ(user0.lwip_dpdk->gateway->to_string(), "10.77.0.1");
  EXPECT_EQ(user0.params.size(), 3u);
  EXPECT_EQ(c.find_stack("nope"), nullptr);

  const Policy& p = c.policy;
  EXPECT_EQ(p.version, 1u);
  ASSERT_EQ(p.rules.size(), 4u);
  EXPECT_EQ(p.rules[0].match.dst->to_string(), "10.78.0.0/16");
  EXPECT_EQ(p.rules[0].use, (std::vector<StackId>{"blue"}));
  EXPECT_EQ(*p.rules[1].match.ports, (PortRange{5201, 5201}));
  EXPECT_EQ(*p.rules[1].match.proto, L4Proto::tcp);
  EXPECT_EQ(p.rules[1].use, (std::vector<StackId>{"user0", "host"}));
  EXPECT_EQ(p.rules[2].match.dst->to_string(), "2001:db8::/32");
  EXPECT_EQ(*p.rules[2].match.ports, (PortRange{8000, 8100}));
  EXPECT_EQ(*p.rules[2].match.proto, L4Proto::udp);
  EXPECT_EQ(*p.rules[2].match.intent, Intent::latency);
  EXPECT_EQ(p.rules[3].match, Match{});
  ASSERT_EQ(c.rule_marks.size(), 4u);
  EXPECT_EQ(c.rule_marks[1].line, 8);
  EXPECT_TRUE(validate(p, c.stack_names()).ok());

  ASSERT_TRUE(c.nrd);
  EXPECT_EQ(c.nrd->socket, "/run/dmm/nrd.sock");
  EXPECT_EQ(c.log.level, LogLevel::debug);
  EXPECT_EQ(c.log.decisions, "/run/dmm/decisions.jsonl");
  EXPECT_TRUE(c.plugins.empty());
}

TEST(HostConfig, OptionalSectionsHaveDefaults) {
  auto r = load("stacks: [{name: host, kind: kernel}]\npolicy: [{match: {}, use: [host]}]\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->nrd);
  EXPECT_EQ(r->log.level, LogLevel::info);
  EXPECT_FALSE(r->log.decisions);
}

TEST(HostConfig, NrdMayBeReachedOverTcp) {
  auto r = load("stacks: [{name: host, kind: kernel}]\npolicy: [{match: {}, use: [host]}]\n"
                "nrd: {tcp: '[fd00::1]:7601'}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->nrd && r->nrd->tcp);
  EXPECT_EQ(r->nrd->tcp->to_string(), "[fd00::1]:7601");
  EXPECT_TRUE(r->nrd->socket.empty());
}

TEST(HostConfig, RelativePathsStartAtTheConfigFilesDirectory) {
  auto r = load_host_config_text("stacks: [{name: host, kind: kernel}]\npolicy: [{match: {}, use: [host]}]\n"
                                 "nrd: {socket: run/nrd.sock}\nlog: {decisions: ../log/d.jsonl}\nplugins: [lib/x.so]\n",
                                 "/srv/conf/dmm.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->nrd->socket, "/srv/conf/run/nrd.sock");
  EXPECT_EQ(*r->log.decisions, "/srv/log/d.jsonl");
  EXPECT_EQ(r->plugins, (std::vector<std::string>{"/srv/conf/lib/x.so"}));
  ASSERT_EQ(r->plugin_marks.size(), 1u);
  EXPECT_EQ(r->plugin_marks[0].line, 5);
}

TEST(HostConfig, LogLevelsRoundTrip) {
  for (auto level : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error})
    EXPECT_EQ(parse_log_level(to_string(level)), level);
  EXPECT_FALSE(parse_log_level("verbose"));
}

TEST(HostConfig, PluginKindsComeFromTheRegistryWithTheirOwnKeys) {
  const std::string text = std::string("plugins: [") + DMM_TEST_PLUGIN + "]\n" +
                           "stacks:\n  - {name: host, kind: kernel}\n  - {name: r, kind: relay, over: host}\n"
                           "policy: [{match: {}, use: [r, host]}]\n";
  // Without a registry the kind is unknown, and the message says why.
  auto without = load(text);
  ASSERT_FALSE(without.ok());
  EXPECT_NE(without.error().message.find("unknown stack kind 'relay'"), std::string::npos) << without.error().message;
  EXPECT_NE(without.error().message.find("need a registry"), std::string::npos);

  StackRegistry registry;
  auto with = load(text, LoadOptions{.registry = &registry});
  ASSERT_TRUE(with.ok()) << with.error().message;
  const StackSpec& r = *with->find_stack("r");
  EXPECT_EQ(r.kind, "relay");
  EXPECT_EQ(r.params.at("over"), "host");
  EXPECT_FALSE(r.kernel);
  EXPECT_NE(registry.find("relay"), nullptr);
  const StackConfig sc = to_stack_config(r);
  EXPECT_EQ(sc.name, "r");
  EXPECT_EQ(sc.kind, "relay");
  EXPECT_EQ(sc.params, r.params);

  // A key the plug-in kind does not declare is an error at that key.
  StackRegistry fresh;  // a plug-in registers its kinds once per registry
  auto wrong = load(std::string("plugins: [") + DMM_TEST_PLUGIN + "]\nstacks:\n  - {name: r, kind: relay, netns: x}\n"
                    "policy: [{match: {}, use: [r]}]\n", LoadOptions{.registry = &fresh});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message.rfind("/etc/dmm/dmm.yaml:3:28: ", 0), 0u) << wrong.error().message;
  EXPECT_NE(wrong.error().message.find("unknown key 'netns' for a stack of kind 'relay'"), std::string::npos);
}

TEST(HostConfig, APluginThatCannotBeLoadedIsAnErrorAtItsEntry) {
  StackRegistry registry;
  auto r = load("plugins:\n  - /nonexistent/dmm-plugin.so\nstacks: [{name: host, kind: kernel}]\n"
                "policy: [{match: {}, use: [host]}]\n", LoadOptions{.registry = &registry});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("/etc/dmm/dmm.yaml:2:5: ", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("cannot load plug-in"), std::string::npos);
}

// From config to a running instance: the typed spec goes through the registry's kernel kind.
TEST(HostConfig, KernelStacksAreCreatedThroughTheRegistry) {
  test::NetnsLab lab;
  auto ns = lab.add_namespace();
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  auto r = load("stacks: [{name: blue, kind: kernel, netns: " + *ns + ", protocol: tcp}]\n"
                "policy: [{match: {}, use: [blue]}]\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(check_host(*r).ok());

  auto ex = kernel::EpollExecutor::create();
  ASSERT_TRUE(ex.ok());
  StackRegistry registry;
  ASSERT_TRUE(kernel::register_kernel_stack_kind(registry, **ex).ok());
  struct World final : StackWorld {
    explicit World(Executor& e) : e_(e) {}
    Executor& executor() override { return e_; }
    Stack* find_stack(const StackId&) override { return nullptr; }
    Executor& e_;
  } world(**ex);
  auto stack = registry.create(to_stack_config(r->stacks[0]), world);
  ASSERT_TRUE(stack.ok()) << stack.error().message;
  EXPECT_EQ((*stack)->info().id, "blue");
  auto* kernel = dynamic_cast<kernel::KernelStack*>(stack->get());
  ASSERT_NE(kernel, nullptr);
  auto fd = kernel->create_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(fd.ok());
  kernel::UniqueFd owned(*fd);
  EXPECT_EQ(*test::socket_netns_inode(owned.get()), *test::netns_inode(test::netns_path(*ns)));
}

TEST(HostConfig, CheckHostFindsAMissingNamespaceAndSaysWhere) {
  const std::string missing = "dmmt-missing-" + std::to_string(::getpid());
  auto r = load("stacks:\n  - {name: host, kind: kernel}\n  - {name: blue, kind: kernel, netns: " + missing +
                "}\npolicy: [{match: {}, use: [blue]}]\n");
  ASSERT_TRUE(r.ok()) << r.error().message;  // loading is pure: the namespace is not looked at
  const Status s = check_host(*r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ENOENT);
  EXPECT_EQ(s.error().message.rfind("/etc/dmm/dmm.yaml:3:5: stack 'blue': network namespace '" + missing +
                                        "' does not exist", 0),
            0u)
      << s.error().message;
}

TEST(HostConfig, CheckHostRefusesAStaleNamespaceFile) {
  // What a crash or an unmount leaves under /run/netns: a plain file, which setns() would refuse much later.
  const std::string name = "dmmt-stale-" + std::to_string(::getpid());
  const std::string path = "/run/netns/" + name;
  std::filesystem::create_directories("/run/netns");
  struct Remove {
    std::string path;
    ~Remove() { std::filesystem::remove(path); }
  } remove{path};
  std::ofstream(path).put('\n');
  auto r = load("stacks: [{name: blue, kind: kernel, netns: " + name + "}]\npolicy: [{match: {}, use: [blue]}]\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Status s = check_host(*r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, EINVAL);
  EXPECT_NE(s.error().message.find("is not a network namespace"), std::string::npos) << s.error().message;
}

// An lwip-dpdk vdev is checked like a namespace: its driver is one DPDK has, its interface exists where the
// instance runs (dmm-run refuses the config before starting anything).
TEST(HostConfig, CheckHostFindsAnUnknownVdevDriverAndAMissingInterface) {
  test::NetnsLab lab;
  auto a = lab.add_namespace();
  auto b = lab.add_namespace();
  ASSERT_TRUE(a.ok() && b.ok());
  auto link = lab.link(*a, "", *b, "10.231.9.1/24");
  ASSERT_TRUE(link.ok()) << link.error().message;
  auto config = [&](const std::string& vdev) {
    return load("stacks:\n  - {name: host, kind: kernel}\n  - {name: user0, kind: lwip-dpdk, vdev: '" + vdev +
                "', address: 10.231.9.2/24, netns: " + *a + "}\npolicy: [{match: {}, use: [user0, host]}]\n");
  };
  auto good = config("net_af_packet0,iface=" + link->first);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_TRUE(check_host(*good).ok()) << check_host(*good).error().message;
  auto null = config("net_null0");
  ASSERT_TRUE(null.ok());
  EXPECT_TRUE(check_host(*null).ok());

  auto missing = config("net_af_packet0,iface=nope9");
  ASSERT_TRUE(missing.ok());  // loading is pure
  const Status s = check_host(*missing);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ENODEV);
  EXPECT_EQ(s.error().message.rfind("/etc/dmm/dmm.yaml:3:5: stack 'user0': vdev 'net_af_packet0,iface=nope9': "
                                    "interface 'nope9' does not exist in network namespace '" + *a + "'", 0),
            0u)
      << s.error().message;

  auto unknown = config("net_af_pakcet0,iface=" + link->first);
  ASSERT_TRUE(unknown.ok());
  const Status u = check_host(*unknown);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, EINVAL);
  EXPECT_NE(u.error().message.find("'net_af_pakcet0' is not a DPDK virtual device"), std::string::npos)
      << u.error().message;
  EXPECT_NE(u.error().message.find("net_af_packet, net_af_xdp, net_pcap"), std::string::npos) << u.error().message;
}

TEST(HostConfig, CheckHostFindsAMissingPlugin) {
  auto r = load("plugins: [/nonexistent/x.so]\nstacks: [{name: host, kind: kernel}]\npolicy: [{match: {}, use: [host]}]\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Status s = check_host(*r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.rfind("/etc/dmm/dmm.yaml:1:11: plug-in /nonexistent/x.so", 0), 0u) << s.error().message;
}

TEST(HostConfig, AKernelStacksCongestionControlIsTypedAndCheckedWithTheKernel) {
  auto r = load("stacks: [{name: host, kind: kernel, congestion: reno}]\npolicy: [{match: {}, use: [host]}]\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->stacks.at(0).kernel->congestion, "reno");
  EXPECT_EQ(r->stacks.at(0).params.at("congestion"), "reno");  // for the registry's factory too
  EXPECT_TRUE(check_host(*r).ok());
  auto unknown = load("stacks: [{name: host, kind: kernel, congestion: nosuchvariant}]\n"
                      "policy: [{match: {}, use: [host]}]\n");
  ASSERT_TRUE(unknown.ok()) << unknown.error().message;
  const Status s = check_host(*unknown);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message.rfind("/etc/dmm/dmm.yaml:1:10: stack 'host': congestion control 'nosuchvariant' is "
                                    "not available in this kernel (available: ", 0), 0u)
      << s.error().message;
}

TEST(HostConfig, ABinaryFileIsNamedAsNotAHostConfig) {
  // A binary (the shim's own .so, a pcap) handed over as dmm.yaml: the message names what was expected.
  auto r = load(std::string("stacks: \xC3\x28\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/etc/dmm/dmm.yaml:1:9: invalid UTF-8 (byte 0xC3); a host config is UTF-8 text")
      << r.error().message;
  auto second = load("stacks: []\n---\npolicy: []\n");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("a host config is one YAML document"), std::string::npos)
      << second.error().message;
}

TEST(HostConfig, FilesThatCannotBeReadAreErrorsAtTheirStart) {
  auto missing = load_host_config_file("/nonexistent/dmm.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message.rfind("/nonexistent/dmm.yaml:1:1: cannot read", 0), 0u) << missing.error().message;
  auto directory = load_host_config_file("/tmp");
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.error().message.find("is a directory"), std::string::npos);
  auto huge = load(std::string(2u << 20, '#'));
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("not a host config"), std::string::npos);
}

// Every prefix of a good config is either a good config or an error in the agreed form: never a crash, never
// an exception (the shim reads this inside arbitrary programs).
TEST(HostConfig, EveryTruncationFailsCleanlyOrLoads) {
  const std::string full(kFull);
  const std::regex form(R"(^/etc/dmm/dmm\.yaml:\d+:\d+: .+)");
  int errors = 0;
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto r = load(full.substr(0, n));
    if (r.ok()) continue;
    ++errors;
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_TRUE(std::regex_match(r.error().message, form)) << "prefix " << n << ": " << r.error().message;
  }
  EXPECT_GT(errors, static_cast<int>(full.size() / 2));
}

// ---- The bad-config corpus ------------------------------------------------------------------------------------

TEST(HostConfigCorpus, EveryBadConfigFailsWhereItSays) {
  test::expect_every_file_fails_where_it_says(DMM_BAD_CONFIGS, 30,
                                              [](const std::string& path) { return load_host_config_file(path); });
}

}  // namespace
}  // namespace dmm::host
