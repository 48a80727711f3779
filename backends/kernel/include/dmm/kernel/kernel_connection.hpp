#pragma once
// One session of a kernel stack: a non-blocking TCP/MPTCP socket, or a connected UDP socket, behind the core's
// Connection. Readiness comes from the EpollExecutor (edge-triggered): on_readable when new data arrives,
// on_writable when the send buffer has room again after a short send, as the ns-3 backend does. Server-side UDP
// sessions share their listener's socket and are KernelUdpPeerConnection instead.
#include <cstdint>
#include <memory>
#include <optional>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/stack.hpp"

namespace dmm::kernel {

// Largest UDP payload that crosses a 1500-byte MTU unfragmented; one send() is one datagram of at most this
// (the same bound as the ns-3 backend, so that a workload behaves alike in both worlds).
inline constexpr std::size_t kMaxUdpPayloadV4 = 1500 - 20 - 8;
inline constexpr std::size_t kMaxUdpPayloadV6 = 1500 - 40 - 8;

class KernelConnection final : public Connection {
public:
  enum class Start : std::uint8_t {
    connecting,     // connect() returned EINPROGRESS: on_connected or on_failed follows
    connected_now,  // connect() succeeded at once (UDP, sometimes loopback TCP): on_connected follows, later
    accepted,       // from accept(): established, no on_connected
  };

  // `fd` is non-blocking. `events` may be null until set_events (the accept path); what happens before is
  // delivered once it is set. Fails if the executor cannot watch the fd.
  static Result<std::unique_ptr<KernelConnection>> create(UniqueFd fd, L4Proto proto, Start start,
                                                          EpollExecutor& executor, ConnectionEvents* events);
  ~KernelConnection() override;  // close()
  KernelConnection(const KernelConnection&) = delete;
  KernelConnection& operator=(const KernelConnection&) = delete;

  void set_events(ConnectionEvents& events) override;
  // TCP takes what fits in the send buffer (0 = full; on_writable follows). UDP sends one datagram of up to
  // kMaxUdpPayload* bytes. ENOTCONN while connecting, EPIPE after shutdown_write; a dead connection returns
  // the error that killed it.
  Result<std::size_t> send(std::span<const std::byte> data) override;
  // TCP: bytes as they come, 0 at end of stream. UDP: one datagram, truncated to the buffer.
  Result<std::size_t> receive(std::span<std::byte> buffer) override;
  void shutdown_write() override;  // TCP: FIN after the data already taken
  // Closes the socket (the kernel sends a FIN, or a RST if received data was left unread).
  void close() override;
  // rtt, segments_sent and retransmits from TCP_INFO (first subflow under MPTCP). bytes_acked is bytes_sent
  // minus what still waits in the send queue (SIOCOUTQ), the ns-3 backend's formula: tcpi_bytes_acked counts
  // the SYN and FIN too, and only one subflow under MPTCP. bytes_received counts what the application read.
  // The last values stay available after close() or failure.
  ConnectionMetrics metrics() const override;

  int fd() const { return fd_.get(); }  // -1 once closed or dead
  bool established() const { return phase_ == Phase::open; }
  bool peer_closed() const { return peer_closed_; }

private:
  enum class Phase : std::uint8_t { connecting, open, dead };
  enum Event : std::uint8_t { kConnected = 1, kReadable = 2, kWritable = 4, kPeerClosed = 8, kFailed = 16 };

  KernelConnection(UniqueFd fd, L4Proto proto, Phase phase, EpollExecutor& executor, ConnectionEvents* events);
  bool is_tcp() const { return proto_ == L4Proto::tcp; }
  void on_io(std::uint32_t events);
  // The socket is gone: dead, fd closed, on_failed once. `now` delivers from this call (inside an I/O callback);
  // otherwise later, because the caller is the application inside send/receive.
  void fail(Error error, bool now);
  // Calls the application; false if it closed or destroyed this connection inside, so the caller must stop.
  bool deliver(Event event);
  void deliver_owed();
  void deliver_connected_now();
  void deliver_failed();
  // Runs the member `fn` from the executor, after the current callback, unless this object is gone by then.
  void after_zero(void (KernelConnection::*fn)());
  void release_fd();
  void refresh_metrics() const;

  UniqueFd fd_;
  L4Proto proto_;
  Phase phase_;
  EpollExecutor& executor_;
  ConnectionEvents* events_;
  std::size_t max_datagram_;
  bool closed_ = false;
  bool write_shut_ = false;
  bool peer_closed_ = false;     // end of stream seen (FIN, or recv returned 0)
  bool peer_close_told_ = false; // on_peer_closed delivered (or owed)
  bool want_writable_ = false;   // a send was short: on_writable is owed when room appears
  std::uint8_t owed_ = 0;        // events that happened while events_ was null
  std::optional<Error> error_;
  mutable ConnectionMetrics metrics_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // expires with this object; guards callbacks
};

}  // namespace dmm::kernel
