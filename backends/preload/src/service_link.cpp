#include "service_link.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd_table.hpp"
#include "shim_guard.hpp"

namespace dmm::preload {
namespace {

// Connecting and each request wait at most this long: dmm-stackd answers in microseconds, and a program's socket()
// must not hang on a stuck daemon.
constexpr std::chrono::milliseconds kTimeout{2000};

bool is_link_gone(int code) { return code == EPIPE || code == ECONNRESET || code == ENOTCONN || code == EBADF; }

}  // namespace

Result<std::vector<kernel::UniqueFd>> ServiceLink::sockets(std::string_view stack, int domain, int type, int protocol,
                                                           int count) {
  const std::uintptr_t me = thread_token();
  for (;;) {
    std::uintptr_t expected = 0;
    if (owner_.compare_exchange_weak(expected, me, std::memory_order_acquire, std::memory_order_relaxed)) break;
    if (expected == me) return make_error(EWOULDBLOCK, "dmm-stackd is being asked by this thread already");
    sched_yield();  // another thread's request: microseconds, bounded by kTimeout
  }
  struct Release {
    std::atomic<std::uintptr_t>& owner;
    ~Release() { owner.store(0, std::memory_order_release); }
  } release{owner_};
  InsideShim guard;  // the client's own socket calls are the shim's, not the program's
  if (stale_) {
    client_.reset();
    stale_ = false;
  }
  for (int attempt = 0;; ++attempt) {
    if (!client_) {
      auto connected = service::StackServiceClient::connect(path_, kTimeout);
      if (!connected) return connected.error();  // names the socket and asks whether dmm-stackd runs
      client_.emplace(std::move(*connected));
    }
    auto made = client_->sockets(stack, domain, type, protocol, count);
    if (made || attempt > 0 || !is_link_gone(made.error().code)) return made;
    client_.reset();  // the daemon restarted: one fresh connection
  }
}

void ServiceLink::after_fork_in_child() noexcept {
  // The parent's connection speaks with the parent's credentials; ours must be our own. Closed by number (no
  // destructor: the client may have been mid-call in another thread of the parent) and forgotten without freeing.
  if (client_) {
    ::syscall(SYS_close, client_->fd());
    client_->forget_connection();  // destroyed (reconnecting) by the child's first request
    stale_ = true;
  }
  owner_.store(0, std::memory_order_relaxed);
}

}  // namespace dmm::preload
