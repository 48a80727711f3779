// Only this file includes <linux/tcp.h>: it clashes with glibc's <netinet/tcp.h>, whose struct tcp_info lacks
// the fields read here.
#include "dmm/kernel/tcp_info.hpp"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstddef>

#include "dmm/kernel/sys_error.hpp"

namespace dmm::kernel {

Result<TcpInfoSample> read_tcp_info(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return last_sys_error("getsockopt(TCP_INFO)");
  // The kernel copies as much of its struct as fits; an older one may fill less than this header declares.
  constexpr std::size_t kNeeded = offsetof(tcp_info, tcpi_delivery_rate) + sizeof info.tcpi_delivery_rate;
  if (length < kNeeded) return make_error(EOPNOTSUPP, "TCP_INFO from this kernel lacks the fields DMM reads");
  TcpInfoSample s;
  s.state = info.tcpi_state;
  s.rtt = std::chrono::microseconds(info.tcpi_rtt);
  s.rtt_variance = std::chrono::microseconds(info.tcpi_rttvar);
  s.bytes_acked_seq = info.tcpi_bytes_acked;
  s.bytes_received_seq = info.tcpi_bytes_received;
  s.segments_out = info.tcpi_segs_out;
  s.data_segments_out = info.tcpi_data_segs_out;
  s.total_retransmits = info.tcpi_total_retrans;
  s.delivery_rate_bytes_per_second = info.tcpi_delivery_rate;
  s.notsent_bytes = info.tcpi_notsent_bytes;  // before tcpi_delivery_rate in the struct: covered by kNeeded
  return s;
}

Result<std::size_t> unacknowledged_bytes(int fd) {
  int bytes = 0;
  if (::ioctl(fd, SIOCOUTQ, &bytes) != 0) return last_sys_error("ioctl(SIOCOUTQ)");
  return static_cast<std::size_t>(bytes < 0 ? 0 : bytes);
}

}  // namespace dmm::kernel
