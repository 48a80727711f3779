#pragma once
// What the kernel knows about one TCP (or MPTCP) socket: getsockopt(TCP_INFO) and the send queue, as plain
// values. KernelConnection turns these into ConnectionMetrics; the preload shim, which sees only raw fds, can
// sample its sessions with the same calls.
#include <cstddef>
#include <cstdint>

#include "dmm/result.hpp"
#include "dmm/units.hpp"

namespace dmm::kernel {

struct TcpInfoSample {
  std::uint8_t state = 0;           // TCP_ESTABLISHED, ...
  Duration rtt{0};                  // smoothed RTT (tcpi_rtt); zero = no sample yet
  Duration rtt_variance{0};         // tcpi_rttvar
  // Sequence space, not data: on the connecting side these include the SYN and, once acknowledged, the FIN
  // (tcpi_bytes_acked); tcpi_bytes_received includes the peer's FIN. Under MPTCP, the first subflow's.
  std::uint64_t bytes_acked_seq = 0;
  std::uint64_t bytes_received_seq = 0;
  std::uint64_t segments_out = 0;       // tcpi_segs_out: every segment, pure ACKs and SYN/FIN included
  std::uint64_t data_segments_out = 0;  // tcpi_data_segs_out: segments that carried data
  std::uint64_t total_retransmits = 0;  // tcpi_total_retrans
  std::uint64_t delivery_rate_bytes_per_second = 0;  // tcpi_delivery_rate
  std::uint64_t notsent_bytes = 0;  // tcpi_notsent_bytes: written, never transmitted (the sender's backlog)
};

// EINVAL/ENOPROTOOPT for a socket that is not TCP or MPTCP; EOPNOTSUPP for a kernel too old for the fields.
Result<TcpInfoSample> read_tcp_info(int fd);

// Bytes handed to the socket and not yet acknowledged by the peer (ioctl SIOCOUTQ): unsent plus in flight.
// Works for TCP and MPTCP (connection level, all subflows).
Result<std::size_t> unacknowledged_bytes(int fd);

}  // namespace dmm::kernel
