#include "datagram_pump.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "dmm/kernel/socket_address.hpp"
#include "dmm/kernel/sys_error.hpp"

namespace dmm::service {
namespace {

using kernel::UniqueFd;

constexpr const char* kTun = "dmmudp0";
// Packets read per wake-up before the loop serves others (the rest wait in the tun's queue, level-triggered).
constexpr int kReadBudget = 64;

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

// `e` as a socket of `domain` takes it: an IPv4 peer of an IPv6 socket in its mapped form (::ffff:a.b.c.d).
kernel::SocketAddress socket_address_for(const Endpoint& e, int domain) {
  if (domain != AF_INET6 || e.address.family != IpFamily::v4) return kernel::to_socket_address(e);
  Endpoint mapped = e;
  mapped.address.family = IpFamily::v6;
  mapped.address.bytes.fill(0);
  mapped.address.bytes[10] = mapped.address.bytes[11] = 0xff;
  std::copy_n(e.address.bytes.begin(), 4, mapped.address.bytes.begin() + 12);
  return kernel::to_socket_address(mapped);
}

// The steps that make the namespace, run inside it; the first that failed, 0 if none.
int set_up(const IpAddress& v4, const std::optional<IpAddress>& v6) {
  if (run_ip({"link", "set", "lo", "up"}) != 0) return 1;
  // A deep queue: a program that sends a burst must not lose it before the daemon reads (UDP drops there silently).
  if (run_ip({"link", "set", kTun, "mtu", "65535", "txqueuelen", "10000", "up"}) != 0) return 2;
  if (run_ip({"address", "add", v4.to_string() + "/32", "dev", kTun}) != 0) return 3;
  if (run_ip({"route", "add", "default", "dev", kTun}) != 0) return 4;
  if (v6) {
    if (run_ip({"-6", "address", "add", v6->to_string() + "/128", "dev", kTun, "nodad"}) != 0) return 5;
    if (run_ip({"-6", "route", "add", "default", "dev", kTun}) != 0) return 6;
  }
  return 0;
}

}  // namespace

Result<std::unique_ptr<DatagramPump>> DatagramPump::create(const std::string& instance, const IpAddress& v4,
                                                           const std::optional<IpAddress>& v6,
                                                           kernel::EpollExecutor& executor) {
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home) return kernel::last_sys_error("open /proc/thread-self/ns/net");
  if (::unshare(CLONE_NEWNET) != 0)
    return kernel::last_sys_error("unshare(CLONE_NEWNET) for the UDP namespace of '" + instance + "'");
  UniqueFd ns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  int saved = errno;
  UniqueFd tun;
  std::string failed;
  if (ns) {
    // The tun belongs to the namespace it is made in: this one.
    tun = UniqueFd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    ifreq request{};
    std::strncpy(request.ifr_name, kTun, IFNAMSIZ - 1);
    request.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (!tun || ::ioctl(tun.get(), TUNSETIFF, &request) != 0) {
      saved = errno;
      failed = std::string("cannot make a tun device (/dev/net/tun): ") + std::strerror(saved);
    } else if (const int step = set_up(v4, v6); step != 0) {
      failed = "`ip` failed at step " + std::to_string(step) + " (lo up, tun up, addresses, routes; is iproute2 installed?)";
    }
  }
  // Home again before anything else, whatever happened.
  if (::setns(home.get(), CLONE_NEWNET) != 0) ::abort();
  if (!ns) return make_error(saved, "cannot open the UDP namespace of '" + instance + "'");
  if (!failed.empty()) return make_error(saved != 0 ? saved : EIO, "UDP namespace of '" + instance + "': " + failed);
  auto sockets = kernel::NetnsSocketFactory::open_path("/proc/self/fd/" + std::to_string(ns.get()), "udp-" + instance);
  if (!sockets) return sockets.error();
  auto diag = sockets->socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (!diag) return diag.error();
  timeval tv{0, 200'000};  // the kernel answers at once; never hang the daemon's loop on it
  ::setsockopt(diag->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::unique_ptr<DatagramPump> pump(
      new DatagramPump(std::move(*sockets), std::move(tun), std::move(*diag), v4, v6, executor));
  DatagramPump* self = pump.get();
  if (Status s = executor.watch(pump->tun_.get(), EPOLLIN, [self](std::uint32_t events) { self->on_tun(events); }); !s)
    return s.error();
  pump->watching_ = true;
  return pump;
}

DatagramPump::~DatagramPump() {
  if (watching_) executor_.unwatch(tun_.get());
}

const IpAddress* DatagramPump::address(IpFamily family) const {
  if (family == IpFamily::v4) return &v4_;
  return v6_ ? &*v6_ : nullptr;
}

Result<DatagramPump::ProgramSocket> DatagramPump::program_socket(const Endpoint& local, bool v6only,
                                                                 const std::optional<Endpoint>& peer,
                                                                 bool nonblocking) const {
  const int domain = local.address.family == IpFamily::v4 ? AF_INET : AF_INET6;
  auto fd = sockets_.socket(domain, SOCK_DGRAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (!fd) return fd.error();
  if (domain == AF_INET6) {
    const int on = v6only ? 1 : 0;
    ::setsockopt(fd->get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  const kernel::SocketAddress bound = socket_address_for(local, domain);
  if (::bind(fd->get(), bound.get(), bound.length) != 0)
    return kernel::last_sys_error("bind the program's UDP socket to " + local.to_string());
  if (peer) {
    const kernel::SocketAddress to = socket_address_for(*peer, domain);
    if (::connect(fd->get(), to.get(), to.length) != 0)
      return kernel::last_sys_error("connect the program's UDP socket to " + peer->to_string());
  }
  ProgramSocket out;
  socklen_t len = sizeof out.cookie;
  ::getsockopt(fd->get(), SOL_SOCKET, SO_COOKIE, &out.cookie, &len);
  out.fd = std::move(*fd);
  return out;
}

void DatagramPump::attach(IpFamily family, std::uint16_t port, Sink* sink) { sinks_[{family, port}] = sink; }

void DatagramPump::detach(IpFamily family, std::uint16_t port, const Sink* sink) {
  const auto it = sinks_.find({family, port});
  if (it != sinks_.end() && it->second == sink) sinks_.erase(it);
}

void DatagramPump::on_tun(std::uint32_t) {
  in_.resize(65536);
  for (int i = 0; i < kReadBudget; ++i) {
    const ssize_t n = ::read(tun_.get(), in_.data(), in_.size());
    if (n <= 0) return;  // EAGAIN: all read
    auto packet = parse_udp_packet(std::span<const std::byte>(in_.data(), static_cast<std::size_t>(n)));
    if (!packet) continue;  // not a UDP datagram (an IPv6 router solicitation, ...): nothing of a session's
    const auto it = sinks_.find({packet->source.address.family, packet->source.port});
    if (it == sinks_.end()) {
      ++dropped_;  // a socket whose session just ended
      continue;
    }
    it->second->from_program(*packet);
  }
}

void DatagramPump::deliver(const Endpoint& from, std::uint16_t port, std::span<const std::byte> payload) {
  const IpAddress* to = address(from.address.family);
  if (!to || !build_udp_packet(from, Endpoint{*to, port}, payload, out_)) {
    ++dropped_;
    return;
  }
  if (::write(tun_.get(), out_.data(), out_.size()) != static_cast<ssize_t>(out_.size())) ++dropped_;
}

std::optional<std::unordered_set<std::uint64_t>> DatagramPump::live_sockets() const {
  std::unordered_set<std::uint64_t> live;
  for (const int family : {AF_INET, AF_INET6}) {
    struct {
      nlmsghdr header;
      inet_diag_req_v2 request;
    } message{};
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    message.header.nlmsg_seq = static_cast<std::uint32_t>(family);
    message.request.sdiag_family = static_cast<std::uint8_t>(family);
    message.request.sdiag_protocol = IPPROTO_UDP;
    message.request.idiag_states = ~0u;
    if (::send(diag_.get(), &message, sizeof message, 0) != static_cast<ssize_t>(sizeof message)) return std::nullopt;
    alignas(nlmsghdr) char answer[16384];
    for (bool done = false; !done;) {
      const ssize_t n = ::recv(diag_.get(), answer, sizeof answer, 0);
      if (n <= 0) return std::nullopt;
      int left = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(answer); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (h->nlmsg_type == NLMSG_ERROR) return std::nullopt;
        const auto* m = reinterpret_cast<const inet_diag_msg*>(NLMSG_DATA(h));
        live.insert(static_cast<std::uint64_t>(m->id.idiag_cookie[0]) |
                    (static_cast<std::uint64_t>(m->id.idiag_cookie[1]) << 32));
      }
    }
  }
  return live;
}

}  // namespace dmm::service
