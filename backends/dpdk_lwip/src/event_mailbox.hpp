#pragma once
// Deferred delivery of ConnectionEvents. lwIP calls back from deep inside its input and timer processing, where
// an application that closes or aborts the connection would free the pcb lwIP is still using. So lwIP callbacks
// only post what happened here, and a zero-delay executor task delivers it once lwIP has returned. Shared with
// that task (shared_ptr), so a connection destroyed meanwhile is simply not called.
#include <cstdint>
#include <memory>
#include <optional>

#include "dmm/executor.hpp"
#include "dmm/result.hpp"
#include "dmm/stack.hpp"

namespace dmm::lwip_dpdk {

class EventMailbox : public std::enable_shared_from_this<EventMailbox> {
public:
  enum Event : std::uint8_t {
    kConnected = 1,
    kReadable = 2,
    kPeerClosed = 4,
    kWritable = 8,
    kFailed = 16,
  };

  explicit EventMailbox(Executor& executor) : executor_(executor) {}

  // Events posted before a sink is set wait for it (a connection accepted before the application took it).
  void set_sink(ConnectionEvents* sink);
  void post(Event event);
  void post_failure(Error error);
  // Nothing is delivered after this (Connection::close).
  void close() { sink_ = nullptr; closed_ = true; }

private:
  void schedule();
  void deliver();

  Executor& executor_;
  ConnectionEvents* sink_ = nullptr;
  std::uint8_t pending_ = 0;
  std::optional<Error> failure_;
  bool scheduled_ = false;
  bool closed_ = false;
};

}  // namespace dmm::lwip_dpdk
