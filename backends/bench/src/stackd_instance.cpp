#include "stackd_instance.hpp"

namespace dmm::bench {

Result<StackdInstance> start_stackd_instance(BenchLab& lab, const std::string& srv, const BenchOptions& options,
                                             const std::string& name) {
  auto daemon_ns = lab.add_namespace("stackd");
  if (!daemon_ns) return daemon_ns.error();
  if (Status s = lab.link(*daemon_ns, "u1", "", srv, "u1", std::string(kStackdPeer) + "/24"); !s) return s.error();
  const std::filesystem::path socket = options.work_dir / ("stackd-" + name + ".sock");
  auto config = write_config(options, name + ".yaml",
                             "stacks:\n  - {name: user1, kind: lwip-dpdk, vdev: 'net_af_packet1,iface=u1', "
                             "address: 10.79.5.2/24, netns: " + *daemon_ns + "}\n"
                             "policy:\n  - {match: {}, use: [user1]}\n"
                             "service: {socket: " + socket.string() + "}\n");
  if (!config) return config.error();
  auto daemon = start_stack_service(options, *config, socket);
  if (!daemon) return daemon.error();
  return StackdInstance{*config, std::move(*daemon)};
}

Result<LwipPaths> make_lwip_paths(BenchLab& lab, const BenchOptions& options, const std::string& stackd_name,
                                  bool with_in_program) {
  auto cli = lab.add_namespace("cli");
  if (!cli) return cli.error();
  auto srv = lab.add_namespace("srv");
  if (!srv) return srv.error();
  if (Status s = lab.link(*cli, "k0", "10.79.1.2/24", *srv, "k0", "10.79.1.1/24"); !s) return s.error();
  if (with_in_program)
    if (Status s = lab.link(*cli, "u0", "", *srv, "u0", "10.79.2.1/24"); !s) return s.error();
  auto stackd = start_stackd_instance(lab, *srv, options, stackd_name);
  if (!stackd) return stackd.error();
  return LwipPaths{*cli, *srv, std::move(*stackd)};
}

}  // namespace dmm::bench
