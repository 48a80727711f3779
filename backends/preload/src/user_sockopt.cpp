// <linux/tcp.h>, not glibc's <netinet/tcp.h>: its struct tcp_info has the byte counters programs read.
#include "user_sockopt.hpp"

#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace dmm::preload {
namespace {

int fail(int err) {
  errno = err;
  return -1;
}

int put_int(int v, void* value, socklen_t* length) {
  if (*length < static_cast<socklen_t>(sizeof v)) return fail(EINVAL);
  std::memcpy(value, &v, sizeof v);
  *length = sizeof v;
  return 0;
}

// TCP_INFO from the session's metrics: what a user-space stack knows (state, RTT, MSS, bytes, retransmits).
int put_tcp_info(UserSession& session, void* value, socklen_t* length) {
  tcp_info info{};
  info.tcpi_state = session.connected() ? 1 /* TCP_ESTABLISHED */ : 2 /* TCP_SYN_SENT */;
  const ConnectionMetrics m = session.metrics();
  const auto rtt_us = std::chrono::duration_cast<std::chrono::microseconds>(m.rtt).count();
  info.tcpi_rtt = static_cast<std::uint32_t>(rtt_us);
  info.tcpi_snd_mss = 1460;  // lwIP's TCP_MSS (lwip_port/lwipopts.h)
  info.tcpi_rcv_mss = 1460;
  info.tcpi_total_retrans = static_cast<std::uint32_t>(m.retransmits);
  info.tcpi_bytes_acked = m.bytes_acked;
  info.tcpi_bytes_received = m.bytes_received;
  info.tcpi_notsent_bytes = static_cast<std::uint32_t>(std::min<ByteCount>(m.bytes_unsent, UINT32_MAX));
  info.tcpi_segs_out = static_cast<std::uint32_t>(m.segments_sent);
  const socklen_t n = std::min<socklen_t>(*length, sizeof info);
  std::memcpy(value, &info, n);
  *length = n;
  return 0;
}

}  // namespace

void apply_recorded_option(UserSession& session, int level, int name, const void* value, socklen_t length) {
  if (level == IPPROTO_TCP && name == TCP_NODELAY && length >= static_cast<socklen_t>(sizeof(int))) {
    int on = 0;
    std::memcpy(&on, value, sizeof on);
    if (session.proto() == L4Proto::tcp) session.set_nodelay(on != 0);
  }
  if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) &&
      length >= static_cast<socklen_t>(sizeof(timeval))) {
    timeval t{};
    std::memcpy(&t, value, sizeof t);
    const Duration d = std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
    if (name == SO_RCVTIMEO)
      session.set_timeouts(d, std::nullopt);
    else
      session.set_timeouts(std::nullopt, d);
  }
}

int user_setsockopt(UserSession& session, int level, int name, const void* value, socklen_t length) {
  if (length > 0 && !value) return fail(EFAULT);
  if (level == IPPROTO_TCP && name == TCP_NODELAY && length < static_cast<socklen_t>(sizeof(int))) return fail(EINVAL);
  if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
    if (length < static_cast<socklen_t>(sizeof(timeval))) return fail(EINVAL);
    timeval t{};
    std::memcpy(&t, value, sizeof t);
    if (t.tv_sec < 0 || t.tv_usec < 0 || t.tv_usec >= 1000000) return fail(EDOM);
  }
  apply_recorded_option(session, level, name, value, length);
  // Everything else is accepted and remembered (buffer sizes, keepalive): a user-space stack has its own buffers
  // and timers, and a program expects a socket option to be taken.
  session.remember_option(level, name, value, length);
  return 0;
}

int user_getsockopt(UserSession& session, int level, int name, void* value, socklen_t* length) {
  if (!value || !length) return fail(EFAULT);
  const bool tcp = session.proto() == L4Proto::tcp;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR: return put_int(session.socket_error(true), value, length);
      case SO_TYPE: return put_int(tcp ? SOCK_STREAM : SOCK_DGRAM, value, length);
      case SO_DOMAIN: return put_int(session.peer().address.family == IpFamily::v6 ? AF_INET6 : AF_INET, value, length);
      case SO_PROTOCOL: return put_int(tcp ? IPPROTO_TCP : IPPROTO_UDP, value, length);
      case SO_ACCEPTCONN: return put_int(0, value, length);
      default: break;
    }
  }
  if (level == IPPROTO_TCP && tcp) {
    if (name == TCP_INFO) return put_tcp_info(session, value, length);
    if (name == TCP_MAXSEG) return put_int(1460, value, length);
  }
  if (session.recall_option(level, name, value, length)) return 0;
  if (level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_RCVBUF))
    return put_int(static_cast<int>(UserSession::kBufferBytes), value, length);
  if ((level == SOL_SOCKET || level == IPPROTO_TCP) && *length >= static_cast<socklen_t>(sizeof(int)))
    return put_int(0, value, length);  // an option never set: off, as a fresh socket's
  return fail(ENOPROTOOPT);
}

}  // namespace dmm::preload
