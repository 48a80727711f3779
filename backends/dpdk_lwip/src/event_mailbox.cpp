#include "event_mailbox.hpp"

namespace dmm::lwip_dpdk {

void EventMailbox::set_sink(ConnectionEvents* sink) {
  sink_ = sink;
  if (pending_ != 0) schedule();
}

void EventMailbox::post(Event event) {
  if (closed_) return;
  pending_ |= event;
  schedule();
}

void EventMailbox::post_failure(Error error) {
  if (closed_ || failure_) return;
  failure_ = std::move(error);
  post(kFailed);
}

void EventMailbox::schedule() {
  if (scheduled_ || !sink_) return;
  scheduled_ = true;
  executor_.schedule(Duration::zero(), [self = shared_from_this()] { self->deliver(); });
}

void EventMailbox::deliver() {
  scheduled_ = false;
  // In the order a kernel socket would show them; each callback may close the connection (sink_ gone).
  for (const Event e : {kConnected, kReadable, kPeerClosed, kWritable, kFailed}) {
    if (!sink_ || !(pending_ & e)) continue;
    pending_ &= static_cast<std::uint8_t>(~e);
    switch (e) {
      case kConnected: sink_->on_connected(); break;
      case kReadable: sink_->on_readable(); break;
      case kPeerClosed: sink_->on_peer_closed(); break;
      case kWritable: sink_->on_writable(); break;
      case kFailed: sink_->on_failed(*failure_); break;
    }
  }
}

}  // namespace dmm::lwip_dpdk
