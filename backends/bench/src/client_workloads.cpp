#include "client_workloads.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu_time.hpp"
#include "dmm/kernel/sys_error.hpp"
#include "dmm/kernel/unique_fd.hpp"

namespace dmm::bench {
namespace {

using Clock = std::chrono::steady_clock;
using kernel::last_sys_error;
using kernel::UniqueFd;

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

Result<SocketAddress> address_of(const ClientTarget& to) {
  SocketAddress a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (::inet_pton(AF_INET, to.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(to.port);
    a.length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, to.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(to.port);
    a.length = sizeof(sockaddr_in6);
    a.family = AF_INET6;
  } else {
    return make_error(EINVAL, "not an IP address: " + to.address);
  }
  return a;
}

// A connected TCP socket. A receive timeout bounds every later read: a broken path fails the run, never hangs it.
Result<UniqueFd> connect_to(const SocketAddress& a, bool nodelay) {
  UniqueFd fd(::socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return last_sys_error("socket");
  const int one = 1;
  if (nodelay && ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    return last_sys_error("setsockopt TCP_NODELAY");
  const timeval timeout{10, 0};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0)
    return last_sys_error("setsockopt SO_RCVTIMEO");
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0) {
    if (errno != EINTR) return last_sys_error("connect");
  }
  return fd;
}

Status write_all(int fd, const char* data, std::size_t length) {
  while (length > 0) {
    const ssize_t n = ::send(fd, data, length, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_sys_error("send");
    data += n;
    length -= static_cast<std::size_t>(n);
  }
  return {};
}

Status read_exactly(int fd, char* data, std::size_t length) {
  while (length > 0) {
    const ssize_t n = ::read(fd, data, length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_sys_error("read");
    if (n == 0) return make_error(ECONNRESET, "read: the server closed the connection early");
    data += n;
    length -= static_cast<std::size_t>(n);
  }
  return {};
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

Result<nlohmann::json> run_pingpong(const ClientTarget& to, int count, int warmup, std::size_t size) {
  if (count <= 0 || warmup < 0 || size == 0) return make_error(EINVAL, "ping-pong needs count > 0 and size > 0");
  auto address = address_of(to);
  if (!address) return address.error();
  auto fd = connect_to(*address, true);
  if (!fd) return fd.error();
  std::vector<char> message(size, 'p');
  std::vector<char> reply(size);
  std::vector<double> rtt_us;
  rtt_us.reserve(static_cast<std::size_t>(count));
  double cpu_start = 0;
  for (int i = 0; i < warmup + count; ++i) {
    if (i == warmup) cpu_start = process_cpu_us();
    const auto start = Clock::now();
    if (Status s = write_all(fd->get(), message.data(), size); !s) return s.error();
    if (Status s = read_exactly(fd->get(), reply.data(), size); !s) return s.error();
    if (i >= warmup) rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  const double cpu_per_round_trip = (process_cpu_us() - cpu_start) / count;
  std::sort(rtt_us.begin(), rtt_us.end());
  auto percentile = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(rtt_us.size() - 1) + 0.5);
    return rtt_us[std::min(index, rtt_us.size() - 1)];
  };
  double sum = 0;
  for (double v : rtt_us) sum += v;
  return nlohmann::json{{"p50_us", percentile(0.50)},
                        {"p99_us", percentile(0.99)},
                        {"mean_us", sum / static_cast<double>(rtt_us.size())},
                        {"cpu_us_per_rt", cpu_per_round_trip},
                        {"count", rtt_us.size()}};
}

Result<nlohmann::json> run_udp_pingpong(const ClientTarget& to, int count, int warmup, std::size_t size, int peers) {
  if (count <= 0 || warmup < 0 || size == 0 || peers <= 0 || to.port + peers - 1 > 65535)
    return make_error(EINVAL, "udp-pingpong needs count > 0, size > 0 and 1.. peers on ports that exist");
  std::vector<SocketAddress> servers;
  for (int i = 0; i < peers; ++i) {
    auto a = address_of(ClientTarget{to.address, static_cast<std::uint16_t>(to.port + i)});
    if (!a) return a.error();
    servers.push_back(*a);
  }
  // One unconnected socket for every peer, as a DNS client asks several servers.
  UniqueFd fd(::socket(servers.front().family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return last_sys_error("socket");
  const timeval timeout{1, 0};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0)
    return last_sys_error("setsockopt SO_RCVTIMEO");
  std::vector<char> message(size, 'u');
  std::vector<char> reply(size + 1);
  std::vector<double> rtt_us;
  rtt_us.reserve(static_cast<std::size_t>(count));
  int lost = 0;
  double cpu_start = 0;
  for (int i = 0; i < warmup + count; ++i) {
    if (i == warmup) cpu_start = process_cpu_us();
    const SocketAddress& server = servers[static_cast<std::size_t>(i % peers)];
    const auto start = Clock::now();
    if (::sendto(fd.get(), message.data(), size, 0, reinterpret_cast<const sockaddr*>(&server.storage),
                 server.length) != static_cast<ssize_t>(size))
      return last_sys_error("sendto");
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    const ssize_t n = ::recvfrom(fd.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ++lost;  // one second without the reply: counted, not waited for again
      continue;
    }
    if (n < 0) return last_sys_error("recvfrom");
    // The reply must come from the server asked (the real peer's address, not a relay's).
    if (length != server.length || std::memcmp(&from, &server.storage, length) != 0)
      return make_error(EPROTO, "a reply came from another address than the one asked");
    if (static_cast<std::size_t>(n) != size) return make_error(EPROTO, "a reply of " + std::to_string(n) + " bytes");
    if (i >= warmup) rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  if (rtt_us.empty()) return make_error(ETIMEDOUT, "no reply at all");
  const double cpu_per_round_trip = (process_cpu_us() - cpu_start) / count;
  std::sort(rtt_us.begin(), rtt_us.end());
  auto percentile = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(rtt_us.size() - 1) + 0.5);
    return rtt_us[std::min(index, rtt_us.size() - 1)];
  };
  return nlohmann::json{{"p50_us", percentile(0.50)},
                        {"p99_us", percentile(0.99)},
                        {"cpu_us_per_rt", cpu_per_round_trip},
                        {"lost", lost},
                        {"count", rtt_us.size()}};
}

Result<nlohmann::json> run_bulk(const ClientTarget& to, std::chrono::milliseconds duration, std::size_t write_size) {
  if (duration.count() <= 0 || write_size == 0) return make_error(EINVAL, "bulk needs a duration and a write size");
  auto address = address_of(to);
  if (!address) return address.error();
  auto fd = connect_to(*address, false);
  if (!fd) return fd.error();
  std::vector<char> block(write_size, 'b');
  std::uint64_t sent = 0;
  const double cpu_start = process_cpu_us();
  const auto start = Clock::now();
  const auto stop = start + duration;
  while (Clock::now() < stop) {
    if (Status s = write_all(fd->get(), block.data(), block.size()); !s) return s.error();
    sent += block.size();
  }
  if (::shutdown(fd->get(), SHUT_WR) != 0) return last_sys_error("shutdown");
  std::uint64_t received = 0;
  if (Status s = read_exactly(fd->get(), reinterpret_cast<char*>(&received), sizeof received); !s) return s.error();
  const double seconds = seconds_since(start);
  if (received != sent)
    return make_error(EIO, "the server received " + std::to_string(received) + " bytes of " + std::to_string(sent));
  const double cpu_s_per_gb = (process_cpu_us() - cpu_start) / 1e6 / (static_cast<double>(sent) / 1e9);
  return nlohmann::json{{"gbps", static_cast<double>(sent) * 8 / seconds / 1e9},
                        {"cpu_s_per_gb", cpu_s_per_gb},
                        {"bytes", sent},
                        {"seconds", seconds}};
}

Result<nlohmann::json> run_connect_close(const ClientTarget& to, std::chrono::milliseconds duration) {
  if (duration.count() <= 0) return make_error(EINVAL, "connect-close needs a duration");
  auto address = address_of(to);
  if (!address) return address.error();
  std::uint64_t count = 0;
  const double cpu_start = process_cpu_us();
  const auto start = Clock::now();
  const auto stop = start + duration;
  char byte;
  while (Clock::now() < stop) {
    // The plainest client there is: socket, connect, read to EOF, close. No options: the shim's cheapest path.
    UniqueFd fd(::socket(address->family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return last_sys_error("socket");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address->storage), address->length) != 0)
      return last_sys_error("connect (after " + std::to_string(count) + " connections)");
    ssize_t n;
    while ((n = ::read(fd.get(), &byte, 1)) < 0 && errno == EINTR) {
    }
    if (n != 0) return make_error(EPROTO, "expected the server to close the connection");
    ++count;
  }
  const double seconds = seconds_since(start);
  const double cpu_per_connection = (process_cpu_us() - cpu_start) / static_cast<double>(count ? count : 1);
  return nlohmann::json{{"per_s", static_cast<double>(count) / seconds},
                        {"cpu_us_per_connection", cpu_per_connection},
                        {"count", count},
                        {"seconds", seconds}};
}

Result<nlohmann::json> run_first_session(const ClientTarget& to) {
  const char* spawned = std::getenv("DMM_BENCH_SPAWNED_AT_NS");
  if (!spawned || !*spawned) return make_error(EINVAL, "first-session needs DMM_BENCH_SPAWNED_AT_NS (set by dmm-bench)");
  auto address = address_of(to);
  if (!address) return address.error();
  UniqueFd fd(::socket(address->family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return last_sys_error("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address->storage), address->length) != 0)
    return last_sys_error("connect");
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const double now_ns = static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
  return nlohmann::json{{"first_session_ms", (now_ns - std::strtod(spawned, nullptr)) / 1e6}};
}

}  // namespace dmm::bench
