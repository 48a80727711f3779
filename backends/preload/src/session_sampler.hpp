#pragma once
// What the shim tells dmm-nrd about the TCP sessions it placed (nRD's passive monitoring): the kernel's TCP_INFO
// of each session, turned into path samples exactly as nSocket turns its connections' metrics into samples (core
// progress_sample), so nRD's estimates mean the same in simulation and on a real host.
//  - At close(): the program's thread reads TCP_INFO of the socket it is closing and leaves it in a fixed-size
//    inbox (no allocation and no waiting on another thread's work: close() runs in signal handlers and between
//    fork and exec). Everything else close() sees costs one table lookup.
//  - Every sample interval the subscription thread walks the fd table for placed TCP sessions and reports the
//    progress of each since its last look, so long sessions keep nRD informed while they last.
#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "dmm/kernel/tcp_info.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/path_sample.hpp"

namespace dmm::preload {

struct ClosedSession {
  int fd = -1;
  int stack = -1;  // index in the orchestrator's stack table
  dev_t dev = 0;
  ino_t ino = 0;
  kernel::TcpInfoSample info;
};

// Reads `fd` if it is a TCP session the shim placed on a stack (called by close() before the fd is forgotten);
// nullopt for anything else.
std::optional<ClosedSession> read_closing_session(int fd);

// Program threads put, the subscription thread takes. Fixed capacity: when the subscription thread falls behind,
// further sessions are counted as dropped rather than queued without bound.
class ClosedSessionInbox {
public:
  static constexpr std::size_t kCapacity = 1024;
  bool put(const ClosedSession& session);
  void take(std::vector<ClosedSession>& out);  // appends everything, empties the inbox
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

private:
  std::mutex mutex_;
  std::array<ClosedSession, kCapacity> items_{};
  std::size_t count_ = 0;
  std::atomic<std::uint64_t> dropped_{0};
};

// The kernel's view of a TCP session as the core's ConnectionMetrics (sequence-space counts without the SYN).
ConnectionMetrics metrics_of(const kernel::TcpInfoSample& info);

// Remembers what it last reported for each live session (on the subscription thread only).
class SessionSampler {
public:
  SessionSampler(const Orchestrator& orchestrator, ByteCount min_goodput_bytes, std::size_t max_tracked)
      : orchestrator_(orchestrator), min_goodput_bytes_(min_goodput_bytes), max_tracked_(max_tracked) {}

  // Every placed TCP session of the fd table: a sample of its progress since the last walk (the first walk that
  // sees a session only takes its baseline: nothing is known about the time before).
  void walk(TimePoint now, PathSampleSink& sink);
  // A session the program closed: its last sample (since the last walk, or its whole life if no walk saw it).
  void closed(const ClosedSession& session, TimePoint now, PathSampleSink& sink);
  std::size_t tracked() const { return tracked_.size(); }

private:
  struct Tracked {
    int stack;
    dev_t dev;
    ino_t ino;
    TimePoint last;
    ConnectionMetrics reported;
    std::uint64_t walk;  // the last walk that saw it
  };

  const Orchestrator& orchestrator_;
  ByteCount min_goodput_bytes_;
  std::size_t max_tracked_;
  std::unordered_map<int, Tracked> tracked_;
  std::uint64_t walks_ = 0;
};

}  // namespace dmm::preload
