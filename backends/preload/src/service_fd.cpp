#include "service_fd.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "real_calls.hpp"
#include "record_ops.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"
#include "dmm/service/messages.hpp"

namespace dmm::preload {
namespace {

int fail(int err) {
  errno = err;
  return -1;
}

bool same_socket(int fd, const FdRecord& rec) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_dev == rec.dev && st.st_ino == rec.ino;
}

// Asks dmm-stackd where the session stands, unless the record knows already (settled, local address known).
// The caller holds the slot lock.
void refresh(FdRecord& rec, bool need_local) {
  if (rec.settled && (!need_local || rec.local_known)) return;
  Shim* shim = active_shim();
  ServiceLink* link = shim ? shim->sources().service() : nullptr;
  if (!link) return;
  ServiceLink::Failure failure = ServiceLink::Failure::none;
  auto status = link->status(rec.session, failure);
  if (!status) return;  // the daemon is gone: what the record says stands
  switch (status->state) {
    case service::SessionState::connecting:
      break;
    case service::SessionState::established:
      rec.settled = true;
      break;
    case service::SessionState::failed:
      rec.settled = true;
      if (rec.session_errno == 0 && !rec.error_reported) rec.session_errno = status->error != 0 ? status->error : EIO;
      break;
    case service::SessionState::closed:
      rec.settled = true;
      break;
  }
  if (status->local.port != 0) {
    rec.local = status->local;
    rec.local_known = true;
  }
}

}  // namespace

void put_endpoint(const Endpoint& e, sockaddr* address, socklen_t* length) {
  if (!address || !length) return;
  sockaddr_storage storage{};
  socklen_t full = 0;
  if (e.address.family == IpFamily::v4) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(e.port);
    std::memcpy(&v4->sin_addr, e.address.bytes.data(), 4);
    full = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(e.port);
    std::memcpy(&v6->sin6_addr, e.address.bytes.data(), 16);
    full = sizeof(sockaddr_in6);
  }
  std::memcpy(address, &storage, std::min(*length, full));
  *length = full;
}

FdSlot* service_slot(int fd) {
  if (inside_shim()) return nullptr;
  FdSlot* slot = fd_table().find(fd);
  if (!slot || slot->state.load(std::memory_order_acquire) != FdState::service) return nullptr;
  {
    SlotLock lock(*slot);
    if (lock.reentered() || slot->state.load(std::memory_order_relaxed) != FdState::service) return nullptr;
    if (!same_socket(fd, slot->record)) return nullptr;  // closed and reused behind the shim's back
  }
  return slot;
}

int service_finish_connect(int fd) {
  FdSlot* slot = service_slot(fd);
  if (!slot) return 0;
  if (slot->record.type != SOCK_STREAM) return 0;  // UDP: connected at once
  const int flags = real().fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) return fail(EINPROGRESS);
  // The end turns writable when the handshake is over, or readable with an error when it failed.
  timeval limit{};
  socklen_t len = sizeof limit;
  const bool bounded = real().getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, &len) == 0 &&
                       (limit.tv_sec > 0 || limit.tv_usec > 0);
  timespec start{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int wait_ms = -1;
    if (bounded) {
      timespec now{};
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      const long long elapsed = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1'000'000;
      const long long total = limit.tv_sec * 1000LL + limit.tv_usec / 1000;
      if (elapsed >= total) return fail(EINPROGRESS);  // as a kernel connect that SO_SNDTIMEO cut short
      wait_ms = static_cast<int>(total - elapsed);
    }
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready != 0) break;
  }
  SlotLock lock(*slot);
  if (lock.reentered()) return 0;
  FdRecord& rec = slot->record;
  for (int i = 0; i < 50 && !rec.settled; ++i) {
    refresh(rec, false);
    if (!rec.settled) {
      const timespec pause{0, 1'000'000};  // the daemon reports right after it made the end writable
      ::nanosleep(&pause, nullptr);
    }
  }
  if (rec.session_errno != 0) {
    rec.error_reported = true;
    const int err = std::exchange(rec.session_errno, 0);
    return fail(err);
  }
  return 0;
}

int service_connect_again(int fd, FdSlot& slot) {
  SlotLock lock(slot);
  if (lock.reentered()) return fail(EALREADY);
  FdRecord& rec = slot.record;
  if (rec.type != SOCK_STREAM) return 0;  // UDP: a new destination is not followed (one peer per session)
  refresh(rec, false);
  if (rec.session_errno != 0) {
    rec.error_reported = true;
    return fail(std::exchange(rec.session_errno, 0));
  }
  (void)fd;
  return fail(rec.settled ? EISCONN : EALREADY);
}

int service_getsockopt(int fd, FdSlot& slot, int level, int name, void* value, socklen_t* length) {
  if (!value || !length) return fail(EFAULT);
  SlotLock lock(slot);
  FdRecord& rec = slot.record;
  auto put_int = [&](int v) {
    if (*length < static_cast<socklen_t>(sizeof v)) return fail(EINVAL);
    std::memcpy(value, &v, sizeof v);
    *length = sizeof v;
    return 0;
  };
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR: {
        if (lock.reentered()) return put_int(0);
        refresh(rec, false);
        const int err = std::exchange(rec.session_errno, 0);
        if (err != 0) rec.error_reported = true;
        return put_int(err);
      }
      case SO_DOMAIN: return put_int(rec.domain);
      case SO_TYPE: return put_int(rec.type);
      case SO_PROTOCOL: return put_int(rec.type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
      case SO_ACCEPTCONN: return put_int(rec.service_listener ? 1 : 0);
      default: return real().getsockopt(fd, level, name, value, length);  // buffers, timeouts: the fd's own
    }
  }
  // TCP/IP levels: what the program set reads back; TCP_INFO says established; the rest reads as off.
  for (std::uint8_t i = 0; i < rec.option_count; ++i) {
    const RecordedOption& o = rec.options[i];
    if (o.level != level || o.name != name) continue;
    const socklen_t n = std::min(*length, o.length);
    std::memcpy(value, o.value, n);
    *length = n;
    return 0;
  }
  if (level == IPPROTO_TCP && name == TCP_INFO) {
    tcp_info info{};
    if (!lock.reentered()) refresh(rec, false);
    info.tcpi_state = rec.settled && rec.session_errno == 0 ? TCP_ESTABLISHED : TCP_SYN_SENT;
    const socklen_t n = std::min<socklen_t>(*length, sizeof info);
    std::memcpy(value, &info, n);
    *length = n;
    return 0;
  }
  return put_int(0);
}

int service_setsockopt(int fd, FdSlot& slot, int level, int name, const void* value, socklen_t length) {
  // Socket-level options are the fd's own (buffers, timeouts, keepalive are accepted by an AF_UNIX socket too).
  if (level == SOL_SOCKET) return real().setsockopt(fd, level, name, value, length);
  if (length > 0 && !value) return fail(EFAULT);
  SlotLock lock(slot);
  if (!lock.reentered()) record_option(slot.record, level, name, value, length);
  return 0;
}

int service_getname(int fd, FdSlot& slot, bool peer, sockaddr* address, socklen_t* length) {
  if (!address || !length) return fail(EFAULT);
  SlotLock lock(slot);
  FdRecord& rec = slot.record;
  if (peer && rec.service_listener) return fail(ENOTCONN);
  if (peer) {
    if (!lock.reentered()) refresh(rec, false);
    if (!rec.settled || rec.session_errno != 0) return fail(ENOTCONN);
    put_endpoint(rec.peer, address, length);
    return 0;
  }
  if (!lock.reentered()) refresh(rec, true);
  Endpoint local = rec.local;
  if (!rec.local_known) {
    local = Endpoint{};
    local.address.family = rec.peer.address.family;
  }
  put_endpoint(local, address, length);
  (void)fd;
  return 0;
}

bool service_read_reset(int fd) {
  FdSlot* slot = service_slot(fd);
  if (!slot) return false;
  SlotLock lock(*slot);
  if (lock.reentered() || slot->record.type != SOCK_STREAM) return false;
  FdRecord& rec = slot->record;
  if (rec.end_checked) return false;  // asked once already: later reads at the end read 0, as on a kernel socket
  rec.end_checked = true;
  // The daemon closes its end at once when the session fails; its status says so by the time EOF is read. A
  // daemon that is gone (stopped or crashed under an open session: an idle one never stops with sessions open)
  // took the session with it: that is a reset, not the peer's end of stream.
  Shim* shim = active_shim();
  ServiceLink* link = shim ? shim->sources().service() : nullptr;
  if (!link) return false;
  ServiceLink::Failure failure = ServiceLink::Failure::none;
  auto status = link->status(rec.session, failure);
  const bool daemon_gone = !status && failure == ServiceLink::Failure::unreachable;
  const bool reset = daemon_gone || (status && status->state == service::SessionState::failed &&
                                     status->error == ECONNRESET);
  if (!reset) return false;
  rec.error_reported = true;
  errno = ECONNRESET;
  return true;
}

int service_after_accept(int listener, int fd, sockaddr* address, socklen_t* length, socklen_t capacity,
                         bool& handled) {
  handled = false;
  FdSlot* from = service_slot(listener);
  if (!from) return fd;
  int stack = kNoStack;
  int domain = AF_INET;
  {
    SlotLock lock(*from);
    if (lock.reentered() || !from->record.service_listener) return fd;
    stack = from->record.stack;
    domain = from->record.domain;
  }
  handled = true;
  std::byte header[service::kAcceptedHeaderBytes];
  std::size_t got = 0;
  timespec start{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  while (got < sizeof header) {
    const ssize_t n = real().recv(fd, header + got, sizeof header - got, MSG_DONTWAIT);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      continue;
    }
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const long long waited_ms = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1'000'000;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) || waited_ms >= 2000) break;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(2000 - waited_ms));
  }
  auto decoded = got == sizeof header ? service::decode_accepted_header(std::span<const std::byte>(header, got))
                                      : Result<service::AcceptedHeader>(make_error(EPROTO, "short"));
  if (!decoded) {
    real().close(fd);
    errno = ECONNABORTED;  // as for a connection reset before it was accepted
    return -1;
  }
  struct stat st {};
  ::fstat(fd, &st);
  if (FdSlot* slot = fd_table().find_or_create(fd)) {
    SlotLock lock(*slot);
    if (!lock.reentered()) {
      FdRecord& rec = slot->record;
      start_pending(rec, domain, SOCK_STREAM, 0, 0);
      rec.dev = st.st_dev;
      rec.ino = st.st_ino;
      rec.stack = stack;
      rec.original = false;
      describe_service_end(rec, {decoded->session, decoded->peer, decoded->local, /*settled=*/true, /*listener=*/false});
      slot->state.store(FdState::service, std::memory_order_release);
    }
  }
  if (address && length) {
    *length = capacity;
    put_endpoint(decoded->peer, address, length);
  }
  return fd;
}

bool service_strips_address(int fd) {
  FdSlot* slot = fd_table().find(fd);
  return slot && slot->state.load(std::memory_order_acquire) == FdState::service && service_slot(fd) != nullptr;
}

}  // namespace dmm::preload
