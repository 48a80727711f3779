#include "lwip_lab.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "dmm/kernel/netns_socket_factory.hpp"

#include "dmm/lwip_dpdk/lwip_dpdk_stack_kind.hpp"

namespace dmm::test {

Endpoint endpoint(const std::string& address, std::uint16_t port) {
  auto a = IpAddress::parse(address);
  if (!a) throw std::runtime_error(a.error().message);
  return Endpoint{*a, port};
}

LwipLab::LwipLab() {
  auto lw = lab_.add_namespace();
  auto srv = lab_.add_namespace();
  if (!lw || !srv) throw std::runtime_error("cannot make the test namespaces");
  lw_ = *lw;
  srv_ = *srv;
  auto ex = kernel::EpollExecutor::create();
  if (!ex) throw std::runtime_error(ex.error().message);
  executor_ = std::move(*ex);
  world_ = std::make_unique<kernel::HostWorld>(*executor_);
  if (Status s = lwip_dpdk::register_lwip_dpdk_stack_kind(registry_); !s) throw std::runtime_error(s.error().message);
}

std::string LwipLab::add_path(int n) {
  auto linked = lab_.link(lw_, "", srv_, "10.77." + std::to_string(n) + ".1/24");
  if (!linked) throw std::runtime_error(linked.error().message);
  // The peer keeps a veth's default offloads (partial checksums, TSO super-frames), as users' veths do.
  peers_[linked->first] = linked->second;
  return linked->first;
}

Result<std::unique_ptr<Stack>> LwipLab::lwip_stack(int n, const std::string& device,
                                                  const std::map<std::string, std::string>& extra) {
  StackConfig config{"user" + std::to_string(n), "lwip-dpdk",
                     {{"vdev", "net_af_packet" + std::to_string(n) + ",iface=" + device},
                      {"address", "10.77." + std::to_string(n) + ".2/24"},
                      {"netns", lw_}}};
  for (const auto& [k, v] : extra) config.params[k] = v;
  return registry_.create(config, *world_);
}

Result<kernel::UniqueFd> LwipLab::server_socket(int type, std::uint16_t port) {
  auto factory = kernel::NetnsSocketFactory::open(srv_);
  if (!factory) return factory.error();
  auto fd = factory->socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!fd) return fd.error();
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(0x0a4d0001);  // 10.77.0.1
  if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
    return make_error(errno, "bind 10.77.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  return fd;
}

std::unique_ptr<kernel::KernelStack> LwipLab::server_stack() {
  auto stack = kernel::KernelStack::create(kernel::KernelStackConfig{"srv", srv_, kernel::KernelProtocol::tcp},
                                           *executor_);
  if (!stack) throw std::runtime_error(stack.error().message);
  return std::move(*stack);
}

}  // namespace dmm::test
