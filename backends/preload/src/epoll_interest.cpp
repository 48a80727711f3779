#include "epoll_interest.hpp"

#include <cerrno>

#include "real_calls.hpp"
#include "shim_state.hpp"

namespace dmm::preload {
namespace {

EpollRegistration* find(FdRecord& rec, int epfd) {
  for (std::uint8_t i = 0; i < rec.epoll_count; ++i)
    if (rec.epoll[i].epfd == epfd) return &rec.epoll[i];
  return nullptr;
}

void remove(FdRecord& rec, EpollRegistration* entry) {
  *entry = rec.epoll[rec.epoll_count - 1];
  --rec.epoll_count;
}

}  // namespace

void record_epoll_ctl(FdRecord& rec, int epfd, int op, const epoll_event* event) {
  EpollRegistration* entry = find(rec, epfd);
  if (op == EPOLL_CTL_DEL) {
    if (entry) remove(rec, entry);
    return;
  }
  if ((op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD) || !event) return;
  if (!entry) {
    // MOD of a set we never saw an ADD for (added through a raw syscall or a dup of the epoll fd): the kernel
    // says it is registered there, so it is recorded like an ADD.
    if (rec.epoll_count == kMaxEpollRegistrations) {
      rec.epoll_overflow = true;
      return;
    }
    entry = &rec.epoll[rec.epoll_count++];
    entry->epfd = epfd;
  }
  entry->events = event->events;
  entry->data = event->data.u64;
  entry->recorded_by = table_owner_pid();
}

void detach_epoll_interest(int fd, FdRecord& rec) {
  const pid_t me = table_owner_pid();
  for (std::uint8_t i = 0; i < rec.epoll_count;) {
    // Recorded by a fork parent: the set is shared with it, and so is the registration (the parent's copy of the
    // placeholder is still its socket). Left where it is; the new socket is added beside it.
    if (rec.epoll[i].recorded_by != me) {
      ++i;
      continue;
    }
    epoll_event unused{};  // kernels before 2.6.9 wanted a non-null pointer for DEL
    if (real().epoll_ctl(rec.epoll[i].epfd, EPOLL_CTL_DEL, fd, &unused) == 0) {
      ++i;
      continue;
    }
    // ENOENT: not in that set any more; EBADF/EINVAL: the number is no longer an epoll set.
    remove(rec, &rec.epoll[i]);
  }
}

int restore_epoll_interest(int fd, const FdRecord& rec) {
  int refused = 0;
  for (std::uint8_t i = 0; i < rec.epoll_count; ++i) {
    epoll_event event{};
    event.events = rec.epoll[i].events;
    event.data.u64 = rec.epoll[i].data;
    if (real().epoll_ctl(rec.epoll[i].epfd, EPOLL_CTL_ADD, fd, &event) != 0) ++refused;
  }
  return refused;
}

}  // namespace dmm::preload
