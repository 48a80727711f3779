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

}  // namespace dmm::bench
