#include "pump_namespace.hpp"

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "dmm/kernel/socket_address.hpp"
#include "dmm/kernel/sys_error.hpp"
#include "sock_diag.hpp"

namespace dmm::service {
namespace {

using kernel::UniqueFd;

// Runs `ip ARGS` in the calling thread's namespace (a forked child inherits it), quietly; its exit status.
int run_ip(std::vector<std::string> args) {
  const pid_t child = ::fork();
  if (child < 0) return -1;
  if (child == 0) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, STDOUT_FILENO);
    ::setenv("PATH", "/usr/sbin:/sbin:/usr/bin:/bin", 1);
    args.insert(args.begin(), "ip");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("ip", argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

sockaddr_storage to_sockaddr(const Endpoint& e, socklen_t& length) {
  sockaddr_storage s{};
  if (e.address.family == IpFamily::v4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&s);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(e.port);
    std::memcpy(&v4->sin_addr, e.address.bytes.data(), 4);
    length = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&s);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(e.port);
    std::memcpy(&v6->sin6_addr, e.address.bytes.data(), 16);
    length = sizeof(sockaddr_in6);
  }
  return s;
}

}  // namespace

Result<PumpNamespace> PumpNamespace::create() {
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home) return kernel::last_sys_error("open /proc/thread-self/ns/net");
  if (::unshare(CLONE_NEWNET) != 0) return kernel::last_sys_error("unshare(CLONE_NEWNET) for the UDP pump namespace");
  UniqueFd pump(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  const int saved = errno;
  int failed_step = 0;
  if (pump) {
    if (run_ip({"link", "set", "lo", "up"}) != 0) failed_step = 1;
    else if (run_ip({"route", "add", "local", "0.0.0.0/0", "dev", "lo"}) != 0) failed_step = 2;
    else if (run_ip({"-6", "route", "add", "local", "::/0", "dev", "lo"}) != 0) failed_step = 3;
  }
  // Home again before anything else, whatever happened.
  if (::setns(home.get(), CLONE_NEWNET) != 0) ::abort();
  if (!pump) return make_error(saved, "cannot open the UDP pump namespace");
  if (failed_step != 0)
    return make_error(EIO, "cannot set up the UDP pump namespace: `ip` failed at step " + std::to_string(failed_step) +
                               " (lo up, AnyIP routes; is iproute2 installed?)");
  auto sockets = kernel::NetnsSocketFactory::open_path("/proc/self/fd/" + std::to_string(pump.get()), "udp-pump");
  if (!sockets) return sockets.error();
  auto diag = sockets->socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (!diag) return diag.error();
  timeval tv{0, 200'000};  // the kernel answers at once; never hang the daemon's loop on it
  ::setsockopt(diag->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return PumpNamespace(std::move(*sockets), std::move(*diag));
}

Result<PumpNamespace::UdpPair> PumpNamespace::udp_pair(const Endpoint& local, const Endpoint& peer,
                                                       bool nonblocking) const {
  const int domain = peer.address.family == IpFamily::v4 ? AF_INET : AF_INET6;
  auto program = sockets_.socket(domain, SOCK_DGRAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (!program) return program.error();
  auto ours = sockets_.socket(domain, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (!ours) return ours.error();
  const int on = 1;
  // Several sessions with one peer: the daemon's ends share its address; each is connected to its own session's
  // local end, which the kernel prefers over every other match.
  ::setsockopt(ours->get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // IPv6 binds only to configured addresses whatever the routes say; FREEBIND lets both ends take any (the
  // AnyIP routes then deliver between them). IPv4 needs it not, and it does no harm.
  for (int fd : {ours->get(), program->get()}) {
    if (domain == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof on);
    ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof on);
  }
  socklen_t local_len = 0, peer_len = 0;
  const sockaddr_storage local_addr = to_sockaddr(local, local_len);
  const sockaddr_storage peer_addr = to_sockaddr(peer, peer_len);
  const auto* l = reinterpret_cast<const sockaddr*>(&local_addr);
  const auto* p = reinterpret_cast<const sockaddr*>(&peer_addr);
  if (::bind(ours->get(), p, peer_len) != 0) return kernel::last_sys_error("bind the daemon's end to " + peer.to_string());
  if (::bind(program->get(), l, local_len) != 0)
    return kernel::last_sys_error("bind the program's end to " + local.to_string());
  if (::connect(ours->get(), l, local_len) != 0) return kernel::last_sys_error("connect the daemon's end");
  if (::connect(program->get(), p, peer_len) != 0) return kernel::last_sys_error("connect the program's end");
  UdpPair pair;
  socklen_t len = sizeof pair.program_cookie;
  ::getsockopt(program->get(), SOL_SOCKET, SO_COOKIE, &pair.program_cookie, &len);
  pair.program = std::move(*program);
  pair.ours = std::move(*ours);
  return pair;
}

bool PumpNamespace::udp_socket_alive(const Endpoint& local, const Endpoint& peer, std::uint64_t cookie) const {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.header.nlmsg_seq = 1;
  inet_diag_req_v2& r = message.request;
  r.sdiag_family = local.address.family == IpFamily::v4 ? AF_INET : AF_INET6;
  r.sdiag_protocol = IPPROTO_UDP;
  r.idiag_states = ~0u;
  r.id.idiag_sport = htons(local.port);
  r.id.idiag_dport = htons(peer.port);
  std::memcpy(r.id.idiag_src, local.address.bytes.data(), local.address.family == IpFamily::v4 ? 4 : 16);
  std::memcpy(r.id.idiag_dst, peer.address.bytes.data(), peer.address.family == IpFamily::v4 ? 4 : 16);
  r.id.idiag_cookie[0] = static_cast<std::uint32_t>(cookie);
  r.id.idiag_cookie[1] = static_cast<std::uint32_t>(cookie >> 32);
  return sock_diag_exists(diag_.get(), &message, sizeof message);
}

}  // namespace dmm::service
