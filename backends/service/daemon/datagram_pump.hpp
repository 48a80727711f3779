#pragma once
// Where the program ends of one user-space instance's UDP sessions live: a private network namespace of
// dmm-stackd's that mirrors the instance's addressing. A tun device in it holds the instance's addresses and is
// every route, so a program's UDP socket there — bound to the session's port on the instance's address (or the
// any address), connected or not — sends each datagram, to any destination, into the tun, where the daemon reads
// it (source port: which session; destination: where the instance sends it). What the instance receives is written
// into the tun as a packet from its real source, which the kernel delivers to the program's socket: recvfrom,
// recvmmsg and raw system calls see the real peer (libuv, BIND's dig check it), getsockname, getpeername, options
// and errors are the kernel's. One socket with many peers (DNS clients and servers) works as on a kernel stack.
// Nothing in the namespace reaches any network.
//
// A UDP socket does not tell anyone when it is closed: the daemon asks the kernel (sock_diag) which of the
// namespace's UDP sockets still exist.
#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include "dmm/address.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/netns_socket_factory.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"
#include "dmm/service/udp_packet.hpp"

namespace dmm::service {

class DatagramPump {
public:
  // A session's side: datagrams its program sent.
  class Sink {
  public:
    virtual ~Sink() = default;
    virtual void from_program(const UdpPacket& packet) = 0;
  };

  // The namespace and its tun (needs CAP_SYS_ADMIN and CAP_NET_ADMIN, and `ip`). `v4`/`v6`: the instance's
  // addresses.
  static Result<std::unique_ptr<DatagramPump>> create(const std::string& instance, const IpAddress& v4,
                                                      const std::optional<IpAddress>& v6,
                                                      kernel::EpollExecutor& executor);
  ~DatagramPump();
  DatagramPump(const DatagramPump&) = delete;
  DatagramPump& operator=(const DatagramPump&) = delete;

  struct ProgramSocket {
    kernel::UniqueFd fd;
    std::uint64_t cookie = 0;  // SO_COOKIE, for alive()
  };
  // A UDP socket of the namespace bound to `local` (an any address, or the instance's), connected to `peer` if
  // given; IPV6_V6ONLY as asked on an IPv6 one.
  Result<ProgramSocket> program_socket(const Endpoint& local, bool v6only, const std::optional<Endpoint>& peer,
                                       bool nonblocking) const;

  // Datagrams sent from `port` of `family` go to `sink` (until detach).
  void attach(IpFamily family, std::uint16_t port, Sink* sink);
  void detach(IpFamily family, std::uint16_t port, const Sink* sink);
  // One datagram from `from` into the namespace, to the instance's address of its family and `port` (where the
  // program's socket is bound). Dropped, as a full socket buffer drops it, when the kernel will not take it.
  void deliver(const Endpoint& from, std::uint16_t port, std::span<const std::byte> payload);
  const IpAddress* address(IpFamily family) const;

  // The SO_COOKIEs of the namespace's UDP sockets that some process still holds; nullopt when the kernel cannot
  // be asked (then nobody is taken for gone).
  std::optional<std::unordered_set<std::uint64_t>> live_sockets() const;

  std::uint64_t packets_dropped() const { return dropped_; }

private:
  DatagramPump(kernel::NetnsSocketFactory sockets, kernel::UniqueFd tun, kernel::UniqueFd diag, IpAddress v4,
               std::optional<IpAddress> v6, kernel::EpollExecutor& executor)
      : sockets_(std::move(sockets)), tun_(std::move(tun)), diag_(std::move(diag)), v4_(v4), v6_(v6),
        executor_(executor) {}
  void on_tun(std::uint32_t events);

  kernel::NetnsSocketFactory sockets_;
  kernel::UniqueFd tun_;
  kernel::UniqueFd diag_;  // NETLINK_SOCK_DIAG inside the namespace
  IpAddress v4_;
  std::optional<IpAddress> v6_;
  kernel::EpollExecutor& executor_;
  bool watching_ = false;
  std::map<std::pair<IpFamily, std::uint16_t>, Sink*> sinks_;
  std::vector<std::byte> in_;   // one packet read
  std::vector<std::byte> out_;  // one packet written
  std::uint64_t dropped_ = 0;
};

}  // namespace dmm::service
