#include "lwip_tcp_connection.hpp"

#include <lwip/priv/tcp_priv.h>

#include <algorithm>
#include <cstring>

#include "lwip_address.hpp"

namespace dmm::lwip_dpdk {
namespace {

// lwIP's lengths are u16_t: larger requests go in pieces of this size.
constexpr std::size_t kMaxChunk = 0xffff;

}  // namespace

Error lwip_error(err_t err, const std::string& what) {
  int code = EIO;
  switch (err) {
    case ERR_MEM: code = ENOMEM; break;
    case ERR_BUF: code = ENOBUFS; break;
    case ERR_TIMEOUT: code = ETIMEDOUT; break;
    case ERR_RTE: code = ENETUNREACH; break;
    case ERR_INPROGRESS: code = EINPROGRESS; break;
    case ERR_VAL: code = EINVAL; break;
    case ERR_WOULDBLOCK: code = EAGAIN; break;
    case ERR_USE: code = EADDRINUSE; break;
    case ERR_ALREADY: code = EALREADY; break;
    case ERR_ISCONN: code = EISCONN; break;
    case ERR_CONN: code = ENOTCONN; break;
    case ERR_IF: code = ENETDOWN; break;
    case ERR_ABRT: code = ECONNABORTED; break;
    case ERR_RST: code = ECONNRESET; break;
    case ERR_CLSD: code = ENOTCONN; break;
    case ERR_ARG: code = EINVAL; break;
    default: break;
  }
  return make_error(code, what + ": " + std::strerror(code));
}

Result<std::unique_ptr<LwipTcpConnection>> LwipTcpConnection::connect(LwipInterface& interface, Executor& executor,
                                                                      const Endpoint& to, TcpOptions options) {
  if (!interface.can_reach(to.address))
    return make_error(ENETUNREACH, "no route to " + to.address.to_string() + " on this lwip-dpdk instance");
  tcp_pcb* pcb = tcp_new_ip_type(to.address.family == IpFamily::v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (!pcb) return make_error(ENOMEM, "lwIP has no memory for a TCP connection");
  tcp_bind_netif(pcb, interface.raw());
  std::unique_ptr<LwipTcpConnection> self(new LwipTcpConnection(pcb, interface, executor, options, false));
  const ip_addr_t address = to_lwip(to.address);
  self->remote_ = to;
  self->connect_started_ = executor.now();
  self->last_progress_ = self->connect_started_;
  const err_t err = tcp_connect(pcb, &address, to.port, &LwipTcpConnection::on_connected);
  if (err != ERR_OK) {
    self->detach_pcb();
    tcp_abort(pcb);
    return lwip_error(err, "connect to " + to.to_string());
  }
  self->local_ = Endpoint{from_lwip(pcb->local_ip), pcb->local_port};
  interface.track_tcp_flow(self->local_.port, to.address, to.port);
  interface.flush();  // the SYN now, not at the next poll
  return self;
}

std::unique_ptr<LwipTcpConnection> LwipTcpConnection::adopt(tcp_pcb* pcb, LwipInterface& interface,
                                                            Executor& executor, TcpOptions options) {
  std::unique_ptr<LwipTcpConnection> self(new LwipTcpConnection(pcb, interface, executor, options, true));
  self->local_ = Endpoint{from_lwip(pcb->local_ip), pcb->local_port};
  self->remote_ = Endpoint{from_lwip(pcb->remote_ip), pcb->remote_port};
  interface.track_tcp_flow(self->local_.port, self->remote_.address, self->remote_.port);
  self->last_progress_ = executor.now();
  self->mailbox_->post(EventMailbox::kConnected);
  return self;
}

LwipTcpConnection::LwipTcpConnection(tcp_pcb* pcb, LwipInterface& interface, Executor& executor, TcpOptions options,
                                     bool connected)
    : pcb_(pcb),
      interface_(interface),
      executor_(executor),
      options_(options),
      mailbox_(std::make_shared<EventMailbox>(executor)),
      connected_(connected) {
  attach_callbacks();
}

LwipTcpConnection::~LwipTcpConnection() {
  close();
  if (remote_.address.family == IpFamily::v4) interface_.forget_tcp_flow(local_.port, remote_.address, remote_.port);
}

void LwipTcpConnection::attach_callbacks() {
  tcp_arg(pcb_, this);
  tcp_recv(pcb_, &LwipTcpConnection::on_recv);
  tcp_sent(pcb_, &LwipTcpConnection::on_sent);
  tcp_err(pcb_, &LwipTcpConnection::on_err);
  tcp_poll(pcb_, &LwipTcpConnection::on_poll, 1);  // every 500 ms (lwIP's slow timer)
}

void LwipTcpConnection::detach_pcb() {
  if (!pcb_) return;
  tcp_arg(pcb_, nullptr);
  tcp_recv(pcb_, nullptr);
  tcp_sent(pcb_, nullptr);
  tcp_err(pcb_, nullptr);
  tcp_poll(pcb_, nullptr, 0);
  pcb_ = nullptr;
}

void LwipTcpConnection::fail(Error error) {
  if (error_) return;
  error_ = error;
  mailbox_->post_failure(std::move(error));
}

void LwipTcpConnection::count_retransmits() {
  if (!pcb_) return;
  if (pcb_->nrtx > last_nrtx_) metrics_.retransmits += static_cast<std::uint64_t>(pcb_->nrtx - last_nrtx_);
  last_nrtx_ = pcb_->nrtx;
}

err_t LwipTcpConnection::on_connected(void* arg, tcp_pcb* pcb, err_t err) {
  auto* self = static_cast<LwipTcpConnection*>(arg);
  if (!self) return ERR_OK;
  if (err != ERR_OK) {  // lwIP 2.1 reports failures through on_err; kept for completeness
    self->fail(lwip_error(err, "connect to " + self->remote_.to_string()));
    return ERR_OK;
  }
  self->connected_ = true;
  self->local_ = Endpoint{from_lwip(pcb->local_ip), pcb->local_port};
  const TimePoint now = self->executor_.now();
  self->handshake_rtt_ = now - self->connect_started_;
  self->last_progress_ = now;
  self->mailbox_->post(EventMailbox::kConnected);
  return ERR_OK;
}

err_t LwipTcpConnection::on_recv(void* arg, tcp_pcb*, pbuf* p, err_t) {
  auto* self = static_cast<LwipTcpConnection*>(arg);
  if (!self) {
    if (p) pbuf_free(p);
    return ERR_OK;
  }
  if (!p) {
    self->peer_closed_ = true;
    self->mailbox_->post(EventMailbox::kPeerClosed);
    self->mailbox_->post(EventMailbox::kReadable);  // a read now returns end of stream
    return ERR_OK;
  }
  self->metrics_.bytes_received += p->tot_len;
  if (self->received_)
    pbuf_cat(self->received_, p);
  else
    self->received_ = p;
  self->mailbox_->post(EventMailbox::kReadable);
  return ERR_OK;
}

err_t LwipTcpConnection::on_sent(void* arg, tcp_pcb*, u16_t length) {
  auto* self = static_cast<LwipTcpConnection*>(arg);
  if (!self) return ERR_OK;
  self->metrics_.bytes_acked += length;
  self->last_progress_ = self->executor_.now();
  self->count_retransmits();
  if (self->want_writable_) {
    self->want_writable_ = false;
    self->mailbox_->post(EventMailbox::kWritable);
  }
  return ERR_OK;
}

err_t LwipTcpConnection::on_poll(void* arg, tcp_pcb* pcb) {
  auto* self = static_cast<LwipTcpConnection*>(arg);
  if (!self) return ERR_OK;
  self->count_retransmits();
  // A send that found lwIP out of memory with nothing of its own in flight gets no acknowledgement to wake it:
  // look again here.
  if (self->want_writable_ && tcp_sndbuf(pcb) > 0 && tcp_sndqueuelen(pcb) < TCP_SND_QUEUELEN) {
    self->want_writable_ = false;
    self->mailbox_->post(EventMailbox::kWritable);
  }
  if (pcb->state == SYN_SENT && self->executor_.now() - self->connect_started_ >= kNeighbourTimeout &&
      !self->interface_.neighbour_resolved(self->remote_.address)) {
    self->detach_pcb();
    tcp_abort(pcb);
    const bool v4 = self->remote_.address.family == IpFamily::v4;
    self->fail(make_error(EHOSTUNREACH, "connect to " + self->remote_.to_string() +
                                            (v4 ? ": no ARP reply from " : ": no neighbour advertisement from ") +
                                            self->interface_.next_hop(self->remote_.address) + " within " +
                                            std::to_string(kNeighbourTimeout.count() / 1000) + " s (host down?)"));
    return ERR_ABRT;
  }
  const bool unacknowledged = pcb->unacked != nullptr || pcb->state == SYN_SENT;
  if (unacknowledged && self->executor_.now() - self->last_progress_ >= self->options_.user_timeout) {
    self->detach_pcb();
    tcp_abort(pcb);
    self->fail(make_error(ETIMEDOUT, "no acknowledgement from " + self->remote_.to_string() + " for " +
                                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                            self->options_.user_timeout).count()) +
                                         " ms: connection timed out"));
    return ERR_ABRT;
  }
  return ERR_OK;
}

void LwipTcpConnection::on_err(void* arg, err_t err) {
  auto* self = static_cast<LwipTcpConnection*>(arg);
  if (!self) return;
  self->pcb_ = nullptr;  // lwIP has freed it already
  const bool refused = !self->connected_ && err == ERR_RST;
  self->fail(refused ? make_error(ECONNREFUSED, "connect to " + self->remote_.to_string() + ": " +
                                                    std::strerror(ECONNREFUSED))
                     : lwip_error(err, self->connected_ ? "connection to " + self->remote_.to_string()
                                                        : "connect to " + self->remote_.to_string()));
}

Result<std::size_t> LwipTcpConnection::send(std::span<const std::byte> data) {
  if (closed_) return make_error(EBADF, "send on a closed connection");
  if (error_) return *error_;
  if (!connected_) return make_error(ENOTCONN, "send before the connection is established");
  if (write_shut_) return make_error(EPIPE, "send after shutdown_write");
  if (data.empty() || !pcb_) return std::size_t{0};
  // The user timeout measures silence while data waits for an acknowledgement: with nothing in flight, its clock
  // starts now (an idle connection is not a silent one).
  if (!pcb_->unacked && !pcb_->unsent) last_progress_ = executor_.now();
  std::size_t taken = 0;
  while (taken < data.size()) {
    const std::size_t room = std::min<std::size_t>(tcp_sndbuf(pcb_), kMaxChunk);
    const std::size_t n = std::min(room, data.size() - taken);
    if (n == 0 || tcp_sndqueuelen(pcb_) >= TCP_SND_QUEUELEN) break;
    const bool more = taken + n < data.size();
    const err_t err = tcp_write(pcb_, data.data() + taken, static_cast<u16_t>(n),
                                TCP_WRITE_FLAG_COPY | (more ? TCP_WRITE_FLAG_MORE : 0));
    if (err == ERR_MEM) break;  // segment queue full: the rest when acknowledgements free it
    if (err != ERR_OK) {
      Error error = lwip_error(err, "send");
      fail(error);
      return error;
    }
    taken += n;
  }
  if (taken < data.size()) want_writable_ = true;
  if (taken > 0) {
    metrics_.bytes_sent += taken;
    tcp_output(pcb_);
    interface_.flush();
  }
  return taken;
}

Result<std::size_t> LwipTcpConnection::receive(std::span<std::byte> buffer) {
  if (closed_) return make_error(EBADF, "receive on a closed connection");
  if (!received_) {
    if (error_) return *error_;
    if (peer_closed_) return std::size_t{0};
    if (!connected_) return make_error(EAGAIN, "not connected yet");
    return make_error(EAGAIN, "no data");
  }
  if (buffer.empty()) return std::size_t{0};
  const std::size_t n = pbuf_copy_partial(received_, buffer.data(),
                                          static_cast<u16_t>(std::min<std::size_t>(buffer.size(), kMaxChunk)), 0);
  received_ = pbuf_free_header(received_, static_cast<u16_t>(n));
  if (pcb_) tcp_recved(pcb_, static_cast<u16_t>(n));  // opens the window by what the application took
  return n;
}

void LwipTcpConnection::shutdown_write() {
  if (closed_ || write_shut_ || !pcb_ || error_) return;
  write_shut_ = true;
  tcp_shutdown(pcb_, 0, 1);
  interface_.flush();
}

void LwipTcpConnection::close() {
  if (closed_) return;
  closed_ = true;
  mailbox_->close();
  if (tcp_pcb* pcb = pcb_) {
    detach_pcb();
    // With data the application never read, lwIP resets the connection (as the kernel does); otherwise FIN.
    if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
    interface_.flush();
  }
  if (received_) {
    pbuf_free(received_);
    received_ = nullptr;
  }
}

ConnectionMetrics LwipTcpConnection::metrics() const {
  ConnectionMetrics m = metrics_;
  m.rtt = handshake_rtt_;
  // Written into lwIP and not yet transmitted: from the next sequence number to send to the last one buffered.
  // Signed: once our FIN is sent, snd_nxt is one past the last byte buffered.
  if (pcb_) m.bytes_unsent = static_cast<ByteCount>(std::max<std::int32_t>(0, static_cast<std::int32_t>(pcb_->snd_lbb - pcb_->snd_nxt)));
  m.segments_sent = interface_.tcp_data_segments(local_.port, remote_.address, remote_.port);
  if (pcb_ && (pcb_->sa >> 3) > 0)  // smoothed RTT x 8, in slow-timer ticks: only once it is a tick or more
    m.rtt = std::chrono::milliseconds(static_cast<std::int64_t>(pcb_->sa >> 3) * TCP_SLOW_INTERVAL);
  return m;
}

bool LwipTcpConnection::set_nodelay(bool on) {
  if (!pcb_) return false;
  if (on)
    tcp_nagle_disable(pcb_);
  else
    tcp_nagle_enable(pcb_);
  return true;
}

}  // namespace dmm::lwip_dpdk
