#include "record_ops.hpp"

#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "real_calls.hpp"

namespace dmm::preload {
namespace {

// Options whose value points into the program's memory (a BPF program): a copy of the pointer would be
// replayed after the program may have freed what it points to. A socket filter can be read back from the old
// socket (SO_GET_FILTER) when it is replayed, so it is recorded without its value; a reuseport program cannot.
bool holds_pointer(int level, int name) {
  // A reuseport BPF program (cannot be read back), and eBPF programs given by fd number (the program may have
  // closed that number, or reused it, by the time of the replay).
  return level == SOL_SOCKET && (name == SO_ATTACH_REUSEPORT_CBPF || name == SO_ATTACH_REUSEPORT_EBPF ||
                                 name == SO_ATTACH_BPF);
}
bool is_socket_filter(int level, int name) { return level == SOL_SOCKET && name == SO_ATTACH_FILTER; }

// The classic BPF filter attached to `from`, attached to `to` as well. 0, or -1 with errno.
int copy_socket_filter(int from, int to) {
  socklen_t count = 0;  // SO_GET_FILTER counts in instructions; 0 asks for the number
  if (real().getsockopt(from, SOL_SOCKET, SO_GET_FILTER, nullptr, &count) != 0) return -1;
  if (count == 0) return 0;  // detached since: nothing to copy
  std::vector<sock_filter> code(count);
  if (real().getsockopt(from, SOL_SOCKET, SO_GET_FILTER, code.data(), &count) != 0) return -1;
  const sock_fprog program{static_cast<unsigned short>(count), code.data()};
  return real().setsockopt(to, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

// Removes recorded option `i`, keeping the order of the others.
void erase_option(FdRecord& rec, std::uint8_t i) {
  for (std::uint8_t j = i; j + 1 < rec.option_count; ++j) rec.options[j] = rec.options[j + 1];
  --rec.option_count;
}

std::optional<std::uint8_t> find_option(const FdRecord& rec, int level, int name) {
  for (std::uint8_t i = 0; i < rec.option_count; ++i)
    if (rec.options[i].level == level && rec.options[i].name == name) return i;
  return std::nullopt;
}


}  // namespace

void start_pending(FdRecord& rec, int domain, int type, int protocol, int intent) {
  // Field by field: the options array is left as it is (option_count = 0 makes it empty) so that socket()
  // does not clear ~700 bytes it will usually never use.
  rec.dev = 0;
  rec.ino = 0;
  rec.domain = domain;
  rec.type = type;
  rec.protocol = protocol;
  rec.intent = static_cast<std::uint8_t>(intent);
  rec.stack = kNoStack;
  rec.original = true;
  rec.placeholder_stack = kNoStack;
  rec.aliased = false;
  rec.made_nonblocking = false;
  rec.bound = false;
  rec.race_serial = 0;
  rec.options_overflow = false;
  rec.option_count = 0;
  rec.epoll_overflow = false;
  rec.epoll_count = 0;
}

bool take_identity(int fd, FdRecord& rec) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  rec.dev = st.st_dev;
  rec.ino = st.st_ino;
  return true;
}

bool still_same_socket(int fd, FdRecord& rec, bool undecided) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  if (identity_known(rec)) return st.st_dev == rec.dev && st.st_ino == rec.ino;
  // No identity yet: the fd must look like the socket the record describes — a socket of its family and type; one
  // about to be replaced also not connected, and unbound unless the program bound it — so that a socket that took
  // the number by another road (io_uring, a raw accept) is never replaced under the program.
  if (!S_ISSOCK(st.st_mode)) return false;
  int type = 0;
  socklen_t length = sizeof type;
  if (real().getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != rec.type) return false;
  sockaddr_storage address{};
  length = sizeof address;
  if (real().getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 || address.ss_family != rec.domain)
    return false;
  const in_port_t port = address.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port
                                                        : reinterpret_cast<const sockaddr_in*>(&address)->sin_port;
  if (undecided) {
    if (port != 0 && !rec.bound) return false;
    length = sizeof address;
    if (real().getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 || errno != ENOTCONN)
      return false;
  }
  rec.dev = st.st_dev;
  rec.ino = st.st_ino;
  return true;
}

void record_option(FdRecord& rec, int level, int name, const void* value, socklen_t length) {
  if (level == SOL_SOCKET && name == SO_DETACH_FILTER) {
    // Detaching undoes the attach: neither is replayed (a new socket starts without a filter).
    if (auto attached = find_option(rec, SOL_SOCKET, SO_ATTACH_FILTER)) erase_option(rec, *attached);
    return;
  }
  if (is_socket_filter(level, name)) length = 0;  // its place in the order only; the code is read back at replay
  if (holds_pointer(level, name) || length > kMaxOptionBytes || (length > 0 && value == nullptr)) {
    rec.options_overflow = true;
    return;
  }
  // Set again: it moves to the end, where the program's latest call put it relative to the others (an option that
  // must come after another — SO_LOCK_FILTER after the filter — keeps coming after it).
  if (auto earlier = find_option(rec, level, name)) erase_option(rec, *earlier);
  if (rec.option_count == kMaxRecordedOptions) {
    rec.options_overflow = true;
    return;
  }
  RecordedOption* slot = &rec.options[rec.option_count++];
  slot->level = level;
  slot->name = name;
  slot->length = length;
  if (length > 0) std::memcpy(slot->value, value, length);
}

int replay_options(const FdRecord& rec, int from, int to) {
  int refused = 0;
  for (std::uint8_t i = 0; i < rec.option_count; ++i) {
    const RecordedOption& o = rec.options[i];
    const int result = is_socket_filter(o.level, o.name)
                           ? copy_socket_filter(from, to)
                           : real().setsockopt(to, o.level, o.name, o.length > 0 ? o.value : nullptr, o.length);
    if (result != 0) ++refused;
  }
  return refused;
}

void replay_socket_level_options(const FdRecord& rec, int to) {
  for (std::uint8_t i = 0; i < rec.option_count; ++i) {
    const RecordedOption& o = rec.options[i];
    if (o.level == SOL_SOCKET && !is_socket_filter(o.level, o.name))
      (void)real().setsockopt(to, o.level, o.name, o.length > 0 ? o.value : nullptr, o.length);
  }
}

void describe_service_end(FdRecord& rec, const ServiceEnd& end) {
  rec.session = end.session;
  rec.peer = end.peer;
  rec.local_known = end.local.has_value();
  if (end.local) rec.local = *end.local;
  rec.settled = end.settled;
  rec.session_errno = 0;
  rec.error_reported = false;
  rec.service_listener = end.listener;
  rec.end_checked = false;
}

}  // namespace dmm::preload
