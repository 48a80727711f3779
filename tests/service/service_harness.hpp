#pragma once
// Test-only helpers for dmm-stackd: a temporary directory, the daemon in-process on a loop thread of its own, a TCP
// echo server inside a test-made namespace, a child process that takes another uid (fork + setgroups/setgid/setuid)
// and reports back one line, raw SEQPACKET peers that say whatever a test wants, and an fd count (nothing left
// behind). Namespaces come from tests/backends' NetnsLab (named uniquely, removed also when a test fails).
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"
#include "dmm/service/messages.hpp"
#include "dmm/service/seqpacket.hpp"
#include "dmm/service/stack_service_daemon.hpp"

namespace dmm::test {

class TempDir {
public:
  TempDir();
  ~TempDir();  // removes everything under it
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& text) const;  // returns the file's path

private:
  std::string path_;
};

// The daemon in-process: made on the calling thread, its EpollExecutor run on a thread of its own until the
// destructor stops it. Counters and the log are read on the loop thread (so no lock is shared with the daemon).
class DaemonThread {
public:
  static Result<std::unique_ptr<DaemonThread>> start(const std::string& config_path,
                                                     service::StackServiceOptions options = {});
  ~DaemonThread();
  DaemonThread(const DaemonThread&) = delete;
  DaemonThread& operator=(const DaemonThread&) = delete;

  service::ServiceCounters counters();
  std::size_t peers();
  std::string log_text();  // everything logged so far (debug level)
  const std::string& socket_path() const { return socket_path_; }

private:
  DaemonThread() = default;
  template <typename T>
  T on_loop(std::function<T()> fn);

  std::unique_ptr<kernel::EpollExecutor> executor_;
  std::shared_ptr<std::ostringstream> log_stream_;
  std::unique_ptr<service::StackServiceDaemon> daemon_;
  std::string socket_path_;
  std::thread loop_;
};

// A TCP echo server on `address` (port chosen by the kernel) inside namespace `netns`, one connection at a time.
class EchoServer {
public:
  static Result<std::unique_ptr<EchoServer>> start(const std::string& netns, const std::string& address);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;
  std::uint16_t port() const { return port_; }

private:
  EchoServer() = default;
  void serve();
  kernel::UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Who a child becomes: it enters `netns` first (if set; still root then), then takes `groups`, `gid`, `uid`.
struct AsUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string netns;
};

// Runs `fn` in a forked child that became `who`, and returns the text it returned (or "child failed: ..." when
// the child could not become `who`, crashed or took more than `timeout`). Only the child changes identity.
std::string run_as(const AsUser& who, const std::function<std::string()>& fn,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Connects to the echo server at `address`:`port` on `fd` (a blocking TCP socket), sends `text` and reads it back;
// "ok" or what went wrong.
std::string echo_through(int fd, const std::string& address, std::uint16_t port, const std::string& text);

// A raw SEQPACKET connection to dmm-stackd that sends any bytes a test wants.
class RawPeer {
public:
  static Result<RawPeer> connect(const std::string& socket_path);
  Status send(std::string_view bytes, std::span<const int> fds = {});
  Status hello();  // hello, then wait for welcome
  // The next message (waits up to `timeout`); nullopt when the daemon closed the connection or nothing came.
  std::optional<service::Received> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads until the daemon closes the connection: true if it did within `timeout`.
  bool closed_by_daemon(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  int fd() const { return fd_.get(); }

private:
  kernel::UniqueFd fd_;
};

// The decoded error message the daemon sent last before closing (reason, errno), or nullopt.
std::optional<service::ErrorMessage> error_message_of(const service::Received& received);

// A request for `count` TCP sockets of stack `stack`, id `id` (for raw peers).
std::string tcp_request(const std::string& stack, std::uint32_t id, int count = 1);

// Open fds of this process (/proc/self/fd).
int open_fd_count();

// Polls `done` every 10 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace dmm::test
