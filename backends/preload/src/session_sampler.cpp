#include "session_sampler.hpp"

#include <netinet/tcp.h>
#include <sys/stat.h>

#include "fd_table.hpp"

namespace dmm::preload {
namespace {

struct PlacedTcp {
  int stack;
  dev_t dev;
  ino_t ino;
};

// A placed TCP socket's stack and identity, read under its slot lock (one attempt: never wait on a program thread
// that is deciding for this fd right now; the next look will do).
std::optional<PlacedTcp> placed_tcp(FdSlot& slot) {
  if (slot.state.load(std::memory_order_acquire) != FdState::placed) return std::nullopt;
  SlotLock lock(slot, SlotLock::TryOnly{});
  if (!lock.held() || slot.state.load(std::memory_order_relaxed) != FdState::placed) return std::nullopt;
  const FdRecord& rec = slot.record;
  if (rec.type != SOCK_STREAM || rec.stack < 0) return std::nullopt;
  return PlacedTcp{rec.stack, rec.dev, rec.ino};
}

// TCP_INFO of `fd` if it still is the socket (dev, ino) and carries a session (not a listener, not connecting).
// An identity the record never took (dev = ino = 0: an accepted socket, or one kept where it was made — nothing
// needed to check it) is trusted as the bookkeeping says, and (dev, ino) become the socket's: sessions are told
// apart by them across walks.
std::optional<kernel::TcpInfoSample> session_info(int fd, dev_t& dev, ino_t& ino) {
  struct stat st {};
  const bool known = dev != 0 || ino != 0;
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || (known && (st.st_dev != dev || st.st_ino != ino)))
    return std::nullopt;
  dev = st.st_dev;
  ino = st.st_ino;
  auto info = kernel::read_tcp_info(fd);
  if (!info || info->state == TCP_LISTEN || info->state == TCP_SYN_SENT || info->state == TCP_CLOSE) return std::nullopt;
  return *info;
}

}  // namespace

std::optional<ClosedSession> read_closing_session(int fd) {
  FdSlot* slot = fd_table().find(fd);
  if (!slot) return std::nullopt;
  auto placed = placed_tcp(*slot);
  if (!placed) return std::nullopt;
  const auto info = session_info(fd, placed->dev, placed->ino);
  if (!info) return std::nullopt;
  return ClosedSession{fd, placed->stack, placed->dev, placed->ino, *info};
}

bool ClosedSessionInbox::put(const ClosedSession& session) {
  const std::lock_guard lock(mutex_);
  if (count_ == items_.size()) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  items_[count_++] = session;
  return true;
}

void ClosedSessionInbox::take(std::vector<ClosedSession>& out) {
  const std::lock_guard lock(mutex_);
  out.insert(out.end(), items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(count_));
  count_ = 0;
}

ConnectionMetrics metrics_of(const kernel::TcpInfoSample& info) {
  ConnectionMetrics m;
  m.rtt = info.rtt;
  m.bytes_acked = info.bytes_acked_seq > 0 ? info.bytes_acked_seq - 1 : 0;  // the SYN takes one sequence number
  m.bytes_sent = m.bytes_acked;
  m.bytes_received = info.bytes_received_seq;
  m.segments_sent = info.data_segments_out;
  m.retransmits = info.total_retransmits;
  m.bytes_unsent = info.notsent_bytes;
  return m;
}

void SessionSampler::walk(TimePoint now, PathSampleSink& sink) {
  ++walks_;
  fd_table().for_each([&](int fd, FdSlot& slot) {
    auto placed = placed_tcp(slot);
    if (!placed || placed->stack >= static_cast<int>(orchestrator_.stacks().size())) return;
    const auto info = session_info(fd, placed->dev, placed->ino);
    if (!info) return;
    const ConnectionMetrics m = metrics_of(*info);
    auto it = tracked_.find(fd);
    if (it != tracked_.end() && it->second.ino == placed->ino && it->second.dev == placed->dev) {
      Tracked& t = it->second;
      if (auto s = progress_sample(orchestrator_.stack_name(static_cast<StackIndex>(t.stack)), t.reported, m, now,
                                   now - t.last, min_goodput_bytes_, false))
        sink.on_sample(*s);
      t.reported = m;
      t.last = now;
      t.walk = walks_;
      return;
    }
    if (it == tracked_.end() && tracked_.size() >= max_tracked_) return;  // bounded: the rest report at close
    tracked_[fd] = Tracked{placed->stack, placed->dev, placed->ino, now, m, walks_};
  });
  // Sessions gone without passing close() (close_range, exec, a dup2 over them) are forgotten.
  std::erase_if(tracked_, [&](const auto& entry) { return entry.second.walk != walks_; });
}

void SessionSampler::closed(const ClosedSession& session, TimePoint now, PathSampleSink& sink) {
  if (session.stack < 0 || session.stack >= static_cast<int>(orchestrator_.stacks().size())) return;
  const StackId& stack = orchestrator_.stack_name(static_cast<StackIndex>(session.stack));
  const ConnectionMetrics m = metrics_of(session.info);
  auto it = tracked_.find(session.fd);
  if (it != tracked_.end() && it->second.ino == session.ino && it->second.dev == session.dev) {
    if (auto s = progress_sample(stack, it->second.reported, m, now, now - it->second.last, min_goodput_bytes_, true))
      sink.on_sample(*s);
    tracked_.erase(it);
    return;
  }
  // No walk saw it: a short session. Its RTT counts; its bytes prove the path works but, with no known duration,
  // give no goodput (a zero interval).
  if (auto s = progress_sample(stack, ConnectionMetrics{}, m, now, Duration::zero(), min_goodput_bytes_, true))
    sink.on_sample(*s);
}

}  // namespace dmm::preload
