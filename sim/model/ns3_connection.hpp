#pragma once
// One session of a simulated stack: an ns-3 TCP socket, or a connected UDP socket, behind the core's Connection.
// Created by Ns3Stack::connect (client side) and by the TCP listener (accepted side). Server-side UDP sessions
// share the listener's socket and are Ns3UdpPeerConnection instead.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dmm/stack.hpp"
#include "run/byte_inbox.hpp"
#include "model/ns3_stack_state.hpp"
#include "ns3/inet-socket-address.h"
#include "ns3/nstime.h"
#include "ns3/packet.h"
#include "ns3/ptr.h"
#include "ns3/sequence-number.h"
#include "ns3/socket.h"

namespace ns3 {
class TcpHeader;
class TcpSocketBase;
}  // namespace ns3

namespace dmm::sim {

// Settings shared by every connection of one stack.
struct Ns3ConnectionOptions {
  L4Proto proto = L4Proto::tcp;
  // The stack's per-packet cost: received data (and end of stream) reaches the application, and data the
  // application sends reaches the socket, this much later. A pipeline delay, not a throughput limit. 0 = none.
  Duration processing_delay{0};
  std::shared_ptr<Ns3StackState> stack;  // never null
};

// Largest UDP payload that crosses a 1500-byte MTU unfragmented; one send() is one datagram of at most this.
inline constexpr std::size_t kMaxUdpPayload = 1500 - 20 - 8;

class Ns3Connection final : public Connection, private Ns3Abortable {
public:
  // `socket` is bound; if `established` it is an accepted, connected TCP socket and no on_connected follows.
  // `events` may be null until set_events (the accept path): what happens before is delivered once it is set.
  Ns3Connection(ns3::Ptr<ns3::Socket> socket, Ns3ConnectionOptions options, ConnectionEvents* events,
                bool established);
  ~Ns3Connection() override;  // close()
  Ns3Connection(const Ns3Connection&) = delete;
  Ns3Connection& operator=(const Ns3Connection&) = delete;

  // TCP: starts the handshake (on_connected / on_failed follow). UDP: fixes the destination; on_connected
  // follows at the same simulated time but never inside this call. Called once, by the stack.
  Status connect(const ns3::InetSocketAddress& peer);

  void set_events(ConnectionEvents& events) override;
  // TCP takes what fits in the socket's send buffer (0 = full; on_writable follows). UDP sends one datagram
  // of up to kMaxUdpPayload bytes. ENOTCONN while connecting, EPIPE after shutdown_write.
  Result<std::size_t> send(std::span<const std::byte> data) override;
  Result<std::size_t> receive(std::span<std::byte> buffer) override;
  void shutdown_write() override;  // TCP: FIN after the data already taken
  // TCP: FIN after the data already taken (RST if received data was left unread, as Linux does).
  void close() override;
  ConnectionMetrics metrics() const override;

  // ns-3 details, for the world and for tests.
  ns3::Ptr<ns3::Socket> socket() const { return socket_; }  // null once closed or dead
  std::string congestion_control() const;                   // e.g. "ns3::TcpVegas"; empty for UDP
  bool established() const { return phase_ == Phase::open; }
  bool peer_closed() const { return peer_closed_; }

private:
  enum class Phase : std::uint8_t { connecting, open, dead };
  enum Event : std::uint8_t { kConnected = 1, kReadable = 2, kWritable = 4, kPeerClosed = 8, kFailed = 16 };

  bool is_tcp() const { return options_.proto == L4Proto::tcp; }
  bool delayed() const { return options_.processing_delay.count() > 0; }
  void attach();
  void detach();
  void leave_stack();
  void abort(const Error& why) override;
  void fail(Error error);  // the socket is gone (reset, timed out, aborted): dead, on_failed once
  // Calls the application; false if it closed or destroyed this connection inside, so the caller must stop.
  bool deliver(Event event);
  void deliver_owed();
  // Runs `fn` after `delay` unless this connection is destroyed first.
  void after(Duration delay, std::function<void()> fn);
  void pull_datagrams();
  void end_of_stream();

  void on_connected(ns3::Ptr<ns3::Socket>);
  void on_connect_failed(ns3::Ptr<ns3::Socket>);
  void on_normal_close(ns3::Ptr<ns3::Socket>);
  void on_error_close(ns3::Ptr<ns3::Socket>);
  void on_recv(ns3::Ptr<ns3::Socket>);
  void on_send(ns3::Ptr<ns3::Socket>, std::uint32_t available);
  void on_tx(ns3::Ptr<const ns3::Packet> packet, const ns3::TcpHeader& header, ns3::Ptr<const ns3::TcpSocketBase>);
  void on_rx_while_connecting(ns3::Ptr<const ns3::Packet>, const ns3::TcpHeader& header,
                              ns3::Ptr<const ns3::TcpSocketBase>);
  void stop_watching_rx();
  void refused();
  void on_rtt(ns3::Time previous, ns3::Time latest);

  ns3::Ptr<ns3::Socket> socket_;
  Ns3ConnectionOptions options_;
  ConnectionEvents* events_;
  Ns3StackState::Token token_ = 0;  // 0 = not (or no longer) registered with the stack
  Phase phase_;
  bool attached_ = false;
  bool watching_rx_ = false;   // the Rx trace is connected (only while connecting, to spot a refusal)
  bool closed_ = false;        // close() was called: no more events, no more calls into the socket
  bool socket_done_ = false;   // ns-3 tore the socket down itself (reset, timeout): never Close() it
  bool write_shut_ = false;
  bool peer_closed_ = false;   // end of stream is visible to the application
  bool want_writable_ = false; // a send was short: on_writable is owed when room appears
  std::uint8_t owed_ = 0;      // events that happened while events_ was null
  std::optional<Error> error_;
  // Receive side of a TCP connection with a processing delay: the application may read bytes up to this count.
  ByteCount readable_upto_ = 0;
  ByteInbox datagrams_;                // UDP bytes taken from the socket, not yet read
  std::size_t sends_in_delay_ = 0;     // bytes taken by send() and still in the processing delay
  mutable ByteCount acked_ = 0;        // last bytes_acked seen while the socket was there
  mutable ByteCount unsent_ = 0;       // last bytes_unsent seen while the socket was there
  ConnectionMetrics metrics_;
  bool sent_data_ = false;
  ns3::SequenceNumber32 sent_end_;     // one past the highest data byte sent so far (retransmit detection)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // expires with this object; guards callbacks
};

}  // namespace dmm::sim
