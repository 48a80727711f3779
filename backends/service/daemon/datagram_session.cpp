#include "datagram_session.hpp"

#include <algorithm>

namespace dmm::service {
namespace {

constexpr std::size_t kDatagram = 65536;
// Datagrams moved per wake-up before the loop serves others (on_readable comes back for the rest).
constexpr int kBudget = 64;

bool is_any(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

Result<std::unique_ptr<DatagramSession>> DatagramSession::open(std::uint64_t id, Stack& stack, DatagramPump& pump,
                                                               const DatagramOptions& options, bool nonblocking,
                                                               kernel::EpollExecutor& executor,
                                                               PathSampleSink* samples, Done done) {
  std::unique_ptr<DatagramSession> s(new DatagramSession(id, pump, executor, std::move(done)));
  s->samples_ = samples;
  s->stack_name_ = stack.info().id;
  auto socket = stack.open_datagram(options, *s);
  if (!socket) return socket.error();
  s->socket_ = std::move(*socket);
  s->local_ = s->socket_->local_endpoint();
  // The program's socket takes the port the instance chose, on the address the program asked for (a connected one
  // on the address it sends from, as getsockname says of a connected kernel socket).
  Endpoint bound = options.peer ? s->local_ : Endpoint{options.local.address, s->local_.port};
  auto program = pump.program_socket(bound, options.v6only, options.peer, nonblocking);
  if (!program) return program.error();
  s->program_ = std::move(program->fd);
  s->cookie_ = program->cookie;
  s->families_.push_back(bound.address.family);
  if (bound.address.family == IpFamily::v6 && is_any(bound.address) && !options.v6only && !options.peer)
    s->families_.push_back(IpFamily::v4);  // a dual-stack socket sends IPv4 from the same port
  for (IpFamily family : s->families_) pump.attach(family, s->local_.port, s.get());
  s->report_progress(false);  // the first look: later ones report what moved since
  return s;
}

DatagramSession::~DatagramSession() { finish(); }

void DatagramSession::report_progress(bool final) {
  if (!samples_ || !socket_) return;
  const TimePoint now = executor_.now();
  const ConnectionMetrics current = socket_->metrics();
  if (last_report_ >= TimePoint::zero()) {
    if (auto sample = progress_sample(stack_name_, reported_, current, now, now - last_report_, 64 * 1024, final))
      samples_->on_sample(*sample);
  }
  last_report_ = now;
  reported_ = current;
}

void DatagramSession::on_readable() {
  if (!socket_) return;
  buffer_.resize(kDatagram);
  for (int i = 0; i < kBudget; ++i) {
    auto got = socket_->receive_from(buffer_);
    if (!got) return;  // EAGAIN: all moved
    pump_.deliver(got->from, local_.port, std::span<const std::byte>(buffer_.data(), got->size));
  }
  // More may wait: come back after others had their turn.
  executor_.post([this, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) on_readable();
  });
}

void DatagramSession::from_program(const UdpPacket& packet) {
  if (!socket_) return;
  // A datagram the instance refuses (no route, no memory) is lost, as a kernel's UDP socket loses it.
  (void)socket_->send_to(packet.destination, packet.payload);
}

void DatagramSession::program_closed() {
  if (!socket_) return;
  finish();
  executor_.post([done = done_, id = id_] { done(id); });
}

void DatagramSession::finish() {
  if (!socket_) return;
  report_progress(true);
  for (IpFamily family : families_) pump_.detach(family, local_.port, this);
  socket_->close();
  socket_.reset();
  state_ = SessionState::closed;
}

}  // namespace dmm::service
