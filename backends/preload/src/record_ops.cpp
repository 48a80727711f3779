#include "record_ops.hpp"

#include <linux/filter.h>
#include <sys/stat.h>

#include <cstring>

#include "real_calls.hpp"

namespace dmm::preload {
namespace {

// Options whose value points into the program's memory (a BPF program): a copy of the pointer would be
// replayed after the program may have freed what it points to. They are not recorded (not replayed).
bool holds_pointer(int level, int name) {
  return level == SOL_SOCKET &&
         (name == SO_ATTACH_FILTER || name == SO_ATTACH_REUSEPORT_CBPF || name == SO_LOCK_FILTER);
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
  rec.bound = false;
  rec.options_overflow = false;
  rec.option_count = 0;
}

bool take_identity(int fd, FdRecord& rec) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  rec.dev = st.st_dev;
  rec.ino = st.st_ino;
  return true;
}

bool still_same_socket(int fd, const FdRecord& rec) {
  struct stat st {};
  return fstat(fd, &st) == 0 && st.st_dev == rec.dev && st.st_ino == rec.ino;
}

void record_option(FdRecord& rec, int level, int name, const void* value, socklen_t length) {
  if (holds_pointer(level, name) || length > kMaxOptionBytes || (length > 0 && value == nullptr)) {
    rec.options_overflow = true;
    return;
  }
  RecordedOption* slot = nullptr;
  for (std::uint8_t i = 0; i < rec.option_count; ++i)
    if (rec.options[i].level == level && rec.options[i].name == name) slot = &rec.options[i];
  if (!slot) {
    if (rec.option_count == kMaxRecordedOptions) {
      rec.options_overflow = true;
      return;
    }
    slot = &rec.options[rec.option_count++];
  }
  slot->level = level;
  slot->name = name;
  slot->length = length;
  if (length > 0) std::memcpy(slot->value, value, length);
}

int replay_options(const FdRecord& rec, int fd) {
  int refused = 0;
  for (std::uint8_t i = 0; i < rec.option_count; ++i) {
    const RecordedOption& o = rec.options[i];
    if (real().setsockopt(fd, o.level, o.name, o.length > 0 ? o.value : nullptr, o.length) != 0) ++refused;
  }
  return refused;
}

}  // namespace dmm::preload
