#include "placement_warning.hpp"

#include <time.h>

#include <atomic>
#include <cstring>
#include <string>

#include "shim_state.hpp"

namespace dmm::preload {
namespace {

// The first kBurst lines are written as they come; after that one line per kQuietMs, which also says how many
// were held back since the last one.
constexpr int kBurst = 10;
constexpr long long kQuietMs = 10'000;

std::atomic<int> g_written{0};
std::atomic<long long> g_next_allowed_ms{0};
std::atomic<long long> g_held_back{0};

long long monotonic_ms() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}

// True if this line may be written now; `held_back` is then how many were dropped before it.
bool may_write(long long& held_back) {
  // Counted only during the burst, so that the count cannot wrap however long the program fails.
  const int written = g_written.load(std::memory_order_relaxed) < kBurst
                          ? g_written.fetch_add(1, std::memory_order_relaxed)
                          : kBurst;
  if (written < kBurst) {
    // The last line of the burst starts the quiet interval.
    if (written == kBurst - 1) g_next_allowed_ms.store(monotonic_ms() + kQuietMs, std::memory_order_relaxed);
    held_back = 0;
    return true;
  }
  const long long now = monotonic_ms();
  long long next = g_next_allowed_ms.load(std::memory_order_relaxed);
  if (now >= next && g_next_allowed_ms.compare_exchange_strong(next, now + kQuietMs, std::memory_order_relaxed)) {
    held_back = g_held_back.exchange(0, std::memory_order_relaxed);
    return true;
  }
  g_held_back.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace

void warn_placement(int fd, const SessionRequest& request, std::string_view event, std::string_view failed_stack,
                    std::string_view why, std::string_view now_on, int failed_errno) {
  long long held_back = 0;
  if (!may_write(held_back)) return;
  std::string line = std::string(event) + " fd " + std::to_string(fd) + " to " + request.dst.to_string() + "/" +
                     std::string(to_string(request.proto)) + ": ";
  if (!failed_stack.empty()) {
    // Reasons often start by naming their stack already.
    const std::string named = "stack '" + std::string(failed_stack) + "': ";
    if (why.substr(0, named.size()) == named) why.remove_prefix(named.size());
    line += "stack '" + std::string(failed_stack) + "' failed (" + std::string(why) + "); ";
  }
  else
    line += std::string(why) + "; ";
  if (!now_on.empty()) {
    line += "carried by '" + std::string(now_on) + "' instead";
  } else {
    const char* name = strerrorname_np(failed_errno);
    line += "no stack left, " + std::string(event) + " fails with " +
            (name ? std::string(name) : std::to_string(failed_errno)) + " (" + std::strerror(failed_errno) + ")";
  }
  if (held_back > 0) line += " [" + std::to_string(held_back) + " similar lines held back]";
  warn(line);
}

}  // namespace dmm::preload
