#include "model/ns3_connection.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <utility>
#include <vector>

#include "model/ns3_socket_util.hpp"
#include "model/ns3_tcp_access.hpp"
#include "ns3/callback.h"
#include "ns3/simulator.h"
#include "ns3/tcp-header.h"
#include "ns3/tcp-rx-buffer.h"
#include "ns3/tcp-socket-base.h"
#include "ns3/tcp-tx-buffer.h"

namespace dmm::sim {
namespace {

TimePoint sim_now() { return TimePoint(ns3::Simulator::Now().GetNanoSeconds()); }
ns3::Time to_time(Duration d) { return ns3::NanoSeconds(d.count()); }

}  // namespace

Ns3Connection::Ns3Connection(ns3::Ptr<ns3::Socket> socket, Ns3ConnectionOptions options, ConnectionEvents* events,
                             bool established)
    : socket_(std::move(socket)),
      options_(std::move(options)),
      events_(events),
      phase_(established ? Phase::open : Phase::connecting) {
  token_ = options_.stack->add(*this);
  attach();
  // An accepted socket may already hold data: ns-3 raised its receive callback before we were attached.
  if (established && socket_->GetRxAvailable() > 0) after(Duration(0), [this] { on_recv(socket_); });
}

Ns3Connection::~Ns3Connection() { close(); }

Status Ns3Connection::connect(const ns3::InetSocketAddress& peer) {
  if (socket_->Connect(peer) != 0) return socket_error(*socket_, "connect");
  if (!is_tcp()) {
    // ns-3's UDP Connect reports success synchronously; the contract wants every outcome on a later callback.
    after(Duration(0), [this] {
      if (phase_ != Phase::connecting) return;
      phase_ = Phase::open;
      deliver(kConnected);
    });
  }
  return {};
}

void Ns3Connection::attach() {
  using ns3::MakeCallback;
  socket_->SetRecvCallback(MakeCallback(&Ns3Connection::on_recv, this));
  if (!is_tcp()) {
    attached_ = true;
    return;
  }
  // Accepted sockets inherit the listener's close callbacks (ns-3's Fork copies them): always set our own.
  socket_->SetConnectCallback(MakeCallback(&Ns3Connection::on_connected, this),
                              MakeCallback(&Ns3Connection::on_connect_failed, this));
  socket_->SetCloseCallbacks(MakeCallback(&Ns3Connection::on_normal_close, this),
                             MakeCallback(&Ns3Connection::on_error_close, this));
  socket_->SetSendCallback(MakeCallback(&Ns3Connection::on_send, this));
  bool traced = socket_->TraceConnectWithoutContext("Tx", MakeCallback(&Ns3Connection::on_tx, this)) &&
                socket_->TraceConnectWithoutContext("RTT", MakeCallback(&Ns3Connection::on_rtt, this));
  if (phase_ == Phase::connecting) {
    traced = traced &&
             socket_->TraceConnectWithoutContext("Rx", MakeCallback(&Ns3Connection::on_rx_while_connecting, this));
    watching_rx_ = true;
  }
  if (!traced) throw std::logic_error("ns-3 TCP socket lacks the Tx/Rx/RTT trace sources this code was written for");
  attached_ = true;
}

void Ns3Connection::detach() {
  if (!attached_) return;
  attached_ = false;
  using ns3::MakeCallback;
  using ns3::MakeNullCallback;
  using ns3::Ptr;
  using ns3::Socket;
  socket_->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
  if (!is_tcp()) return;
  socket_->SetConnectCallback(MakeNullCallback<void, Ptr<Socket>>(), MakeNullCallback<void, Ptr<Socket>>());
  socket_->SetCloseCallbacks(MakeNullCallback<void, Ptr<Socket>>(), MakeNullCallback<void, Ptr<Socket>>());
  socket_->SetSendCallback(MakeNullCallback<void, Ptr<Socket>, std::uint32_t>());
  socket_->TraceDisconnectWithoutContext("Tx", MakeCallback(&Ns3Connection::on_tx, this));
  socket_->TraceDisconnectWithoutContext("RTT", MakeCallback(&Ns3Connection::on_rtt, this));
  stop_watching_rx();
}

void Ns3Connection::stop_watching_rx() {
  if (!std::exchange(watching_rx_, false)) return;
  socket_->TraceDisconnectWithoutContext("Rx", ns3::MakeCallback(&Ns3Connection::on_rx_while_connecting, this));
}

void Ns3Connection::leave_stack() {
  if (token_ == 0) return;
  options_.stack->remove(token_);
  token_ = 0;
}

void Ns3Connection::set_events(ConnectionEvents& events) {
  events_ = &events;
  // Delivered later, not from inside set_events (usually called from on_accept, which should finish first).
  if (owed_ != 0 && !closed_) after(Duration(0), [this] { deliver_owed(); });
}

ConnectionMetrics Ns3Connection::metrics() const {
  ConnectionMetrics m = metrics_;
  m.bytes_acked = m.bytes_sent;
  if (is_tcp()) {
    // Acknowledged = handed over minus what still waits: in the processing delay or in ns-3's send buffer
    // (unsent or unacknowledged). Remembered, since a closed connection has no buffer left to ask.
    if (auto tcp = socket_ ? ns3::DynamicCast<ns3::TcpSocketBase>(socket_) : nullptr) {
      const auto buffer = tcp->GetTxBuffer();
      const ByteCount waiting = sends_in_delay_ + buffer->Size();
      acked_ = m.bytes_sent > waiting ? m.bytes_sent - waiting : 0;
      // Never transmitted: the processing delay, and the buffer past the highest byte sent (all of it before the
      // first data segment).
      // (Never more than the buffer holds: once our FIN is acknowledged, the buffer's tail is one sequence number
      // past the last byte, and SizeFromSequence counts that number.)
      unsent_ = sends_in_delay_ +
                (sent_data_ ? std::min(buffer->SizeFromSequence(sent_end_), buffer->Size()) : buffer->Size());
    }
    m.bytes_acked = acked_;
    m.bytes_unsent = unsent_;
  }
  return m;
}

Result<std::size_t> Ns3Connection::send(std::span<const std::byte> data) {
  if (closed_) return make_error(EBADF, "send on a closed connection");
  if (phase_ == Phase::dead) return *error_;
  if (phase_ == Phase::connecting) return make_error(ENOTCONN, "send before the connection is established");
  if (write_shut_) return make_error(EPIPE, "send after shutdown_write");
  if (data.empty()) return std::size_t{0};
  std::size_t n = std::min(data.size(), kMaxUdpPayload);
  if (is_tcp()) {
    const std::size_t available = socket_->GetTxAvailable();
    // Bytes still in the processing delay will land in the same buffer: they are already spoken for.
    const std::size_t room = available > sends_in_delay_ ? available - sends_in_delay_ : 0;
    n = std::min(data.size(), room);
    if (n < data.size()) want_writable_ = true;
    if (n == 0) return std::size_t{0};
  }
  // ns-3 keeps an all-zero payload as a "zero area" that stores no bytes (what its own BulkSend sends), which
  // is far cheaper to carry through the stack than a copy. Workloads send zeros; echoes and real payloads keep
  // their bytes. The check costs one pass over data that would otherwise be copied.
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
  const bool all_zero = std::all_of(bytes, bytes + n, [](std::uint8_t b) { return b == 0; });
  ns3::Ptr<ns3::Packet> packet = all_zero ? ns3::Create<ns3::Packet>(static_cast<std::uint32_t>(n))
                                          : ns3::Create<ns3::Packet>(bytes, static_cast<std::uint32_t>(n));
  if (!delayed()) {
    if (socket_->Send(packet) < 0) return socket_error(*socket_, "send");
  } else {
    sends_in_delay_ += n;
    // The socket, not this object, carries the bytes through the delay: data taken is sent even if the
    // application closes meanwhile (close() defers its FIN behind it).
    std::weak_ptr<bool> alive = alive_;
    ns3::Simulator::Schedule(to_time(options_.processing_delay), [this, alive, socket = socket_, packet, n] {
      socket->Send(packet);
      if (!alive.expired()) sends_in_delay_ -= n;
    });
  }
  if (!is_tcp()) ++metrics_.segments_sent;
  metrics_.bytes_sent += n;
  return n;
}

Result<std::size_t> Ns3Connection::receive(std::span<std::byte> buffer) {
  if (closed_) return make_error(EBADF, "receive on a closed connection");
  if (phase_ == Phase::dead) return *error_;
  if (phase_ == Phase::connecting) return make_error(EAGAIN, "not connected yet");
  std::size_t n = 0;
  if (!is_tcp()) {
    n = datagrams_.take(buffer, sim_now());
  } else {
    // TCP bytes stay in ns-3's receive buffer until read, so the advertised window reflects a slow reader.
    std::size_t allowed = buffer.size();
    if (delayed()) allowed = std::min<ByteCount>(allowed, readable_upto_ - metrics_.bytes_received);
    while (n < allowed) {
      const ns3::Ptr<ns3::Packet> p = socket_->Recv(static_cast<std::uint32_t>(allowed - n), 0);
      if (!p || p->GetSize() == 0) break;  // nothing, or ns-3's empty "EOF" packet
      p->CopyData(reinterpret_cast<std::uint8_t*>(buffer.data() + n), p->GetSize());
      n += p->GetSize();
    }
  }
  metrics_.bytes_received += n;
  if (n > 0 || buffer.empty()) return n;
  if (peer_closed_ && socket_->GetRxAvailable() == 0) return std::size_t{0};
  return make_error(EAGAIN, "no data");
}

void Ns3Connection::shutdown_write() {
  if (closed_ || phase_ == Phase::dead || write_shut_) return;
  write_shut_ = true;
  if (!is_tcp()) return;  // UDP has nothing to tell the peer
  if (delayed() && sends_in_delay_ > 0) {
    ns3::Simulator::Schedule(to_time(options_.processing_delay), [socket = socket_] { socket->ShutdownSend(); });
  } else {
    socket_->ShutdownSend();
  }
}

void Ns3Connection::close() {
  if (closed_) return;
  closed_ = true;
  leave_stack();
  if (!socket_) return;
  detach();
  if (!socket_done_) {
    if (delayed() && sends_in_delay_ > 0) {
      ns3::Simulator::Schedule(to_time(options_.processing_delay), [socket = socket_] { socket->Close(); });
    } else {
      socket_->Close();
    }
  }
  release_socket_later(std::exchange(socket_, nullptr));
}

void Ns3Connection::abort(const Error& why) {
  token_ = 0;  // the stack has already dropped us
  if (closed_ || phase_ == Phase::dead) return;
  detach();
  if (!socket_done_) {
    if (auto tcp = ns3::DynamicCast<ns3::TcpSocketBase>(socket_)) {
      abort_with_reset(*tcp);
    } else {
      socket_->Close();
    }
    socket_done_ = true;
  }
  fail(why);
}

void Ns3Connection::fail(Error error) {
  if (closed_ || phase_ == Phase::dead) return;
  phase_ = Phase::dead;
  error_ = std::move(error);
  datagrams_.clear();
  leave_stack();
  if (socket_) {
    detach();
    release_socket_later(std::exchange(socket_, nullptr));
  }
  deliver(kFailed);
}

bool Ns3Connection::deliver(Event event) {
  if (closed_) return false;
  if (events_ == nullptr) {
    owed_ |= event;
    return true;
  }
  const std::weak_ptr<bool> alive = alive_;
  switch (event) {
    case kConnected: events_->on_connected(); break;
    case kReadable: events_->on_readable(); break;
    case kWritable: events_->on_writable(); break;
    case kPeerClosed: events_->on_peer_closed(); break;
    case kFailed: events_->on_failed(*error_); break;
  }
  return !alive.expired() && !closed_;
}

void Ns3Connection::deliver_owed() {
  for (const Event event : {kConnected, kReadable, kWritable, kPeerClosed, kFailed}) {
    if ((owed_ & event) == 0) continue;
    owed_ &= static_cast<std::uint8_t>(~event);
    if (!deliver(event)) return;
  }
}

void Ns3Connection::after(Duration delay, std::function<void()> fn) {
  ns3::Simulator::Schedule(to_time(delay), [alive = std::weak_ptr<bool>(alive_), fn = std::move(fn)] {
    if (!alive.expired()) fn();
  });
}

void Ns3Connection::pull_datagrams() {
  const TimePoint ready_at = sim_now() + options_.processing_delay;
  while (const ns3::Ptr<ns3::Packet> p = socket_->Recv()) {
    std::vector<std::byte> bytes(p->GetSize());
    p->CopyData(reinterpret_cast<std::uint8_t*>(bytes.data()), p->GetSize());
    datagrams_.push(std::move(bytes), ready_at);
  }
}

void Ns3Connection::end_of_stream() {
  if (closed_ || phase_ == Phase::dead || peer_closed_) return;
  peer_closed_ = true;
  deliver(kPeerClosed);
}

void Ns3Connection::on_connected(ns3::Ptr<ns3::Socket>) {
  if (closed_ || phase_ != Phase::connecting) return;
  phase_ = Phase::open;
  stop_watching_rx();
  deliver(kConnected);
}

void Ns3Connection::on_rx_while_connecting(ns3::Ptr<const ns3::Packet>, const ns3::TcpHeader& header,
                                           ns3::Ptr<const ns3::TcpSocketBase>) {
  // ns-3 3.37 ignores the RST|ACK a closed port answers a SYN with (ProcessSynSent takes it for a stray ACK)
  // and would retry the SYN for two minutes. Linux reports ECONNREFUSED at once; so do we. The socket is in
  // the middle of processing this segment: act after it returns.
  if ((header.GetFlags() & ns3::TcpHeader::RST) == 0) return;
  after(Duration(0), [this] { refused(); });
}

void Ns3Connection::refused() {
  if (closed_ || phase_ != Phase::connecting) return;
  detach();
  socket_->Close();  // in SYN_SENT: stops the SYN retries and releases the endpoint
  socket_done_ = true;
  fail(make_error(ECONNREFUSED, "connection refused (reset by peer)"));
}

void Ns3Connection::on_connect_failed(ns3::Ptr<ns3::Socket>) {
  // ns-3 calls this only when the SYN retries ran out (a refusal is caught by on_rx_while_connecting).
  socket_done_ = true;
  fail(make_error(ETIMEDOUT, "connection timed out (no answer to SYN)"));
}

void Ns3Connection::on_normal_close(ns3::Ptr<ns3::Socket>) {
  if (closed_ || phase_ == Phase::dead) return;
  // ns-3 reports a received RST as a *normal* close, in SYN_SENT as well as later. A FIN leaves the receive
  // buffer "finished" (every byte up to the FIN arrived); a RST does not.
  const auto tcp = ns3::DynamicCast<ns3::TcpSocketBase>(socket_);
  if (!tcp->GetRxBuffer()->Finished()) {
    socket_done_ = true;
    fail(phase_ == Phase::connecting ? make_error(ECONNREFUSED, "connection refused (reset by peer)")
                                     : make_error(ECONNRESET, "connection reset by peer"));
    return;
  }
  // The FIN becomes visible after the data before it, which may still be in the processing delay.
  if (delayed()) {
    after(options_.processing_delay, [this] { end_of_stream(); });
  } else {
    end_of_stream();
  }
}

void Ns3Connection::on_error_close(ns3::Ptr<ns3::Socket>) {
  if (closed_ || phase_ == Phase::dead) return;
  socket_done_ = true;  // ns-3 deallocates the endpoint right after this callback
  fail(make_error(ETIMEDOUT, "connection timed out (retransmissions exhausted)"));
}

void Ns3Connection::on_recv(ns3::Ptr<ns3::Socket>) {
  if (closed_ || phase_ == Phase::dead || !socket_) return;
  if (!is_tcp()) pull_datagrams();  // ns-3 hands out UDP datagrams only whole
  if (!delayed()) {
    deliver(kReadable);
    return;
  }
  const ByteCount arrived = metrics_.bytes_received + socket_->GetRxAvailable();
  after(options_.processing_delay, [this, arrived] {
    readable_upto_ = std::max(readable_upto_, arrived);
    if (phase_ != Phase::dead) deliver(kReadable);
  });
}

void Ns3Connection::on_send(ns3::Ptr<ns3::Socket>, std::uint32_t) {
  if (!want_writable_ || closed_ || phase_ != Phase::open) return;
  want_writable_ = false;
  deliver(kWritable);
}

void Ns3Connection::on_tx(ns3::Ptr<const ns3::Packet> packet, const ns3::TcpHeader& header,
                          ns3::Ptr<const ns3::TcpSocketBase>) {
  const std::uint32_t size = packet->GetSize();
  if (size == 0) return;  // SYN, FIN, pure ACK: not data segments
  ++metrics_.segments_sent;
  const ns3::SequenceNumber32 begin = header.GetSequenceNumber();
  const ns3::SequenceNumber32 end = begin + static_cast<std::int32_t>(size);
  // Data below the highest byte already sent has been sent before: a retransmission (timeout, fast or SACK).
  if (sent_data_ && begin < sent_end_) ++metrics_.retransmits;
  if (!sent_data_ || end > sent_end_) sent_end_ = end;
  sent_data_ = true;
}

void Ns3Connection::on_rtt(ns3::Time, ns3::Time latest) { metrics_.rtt = Duration(latest.GetNanoSeconds()); }

std::string Ns3Connection::congestion_control() const {
  const auto tcp = ns3::DynamicCast<ns3::TcpSocketBase>(socket_);
  return tcp ? congestion_control_name(*tcp) : std::string();
}

}  // namespace dmm::sim
