#pragma once
// The real daemon in-process for tests: configs written to a temp dir, one EpollExecutor driving the daemon and
// its clients (the test spins it until what it waits for holds, with a deadline), raw peers for hostile bytes, and
// a way to run the test thread inside a test-made namespace (TCP and HTTP traffic must stay in one).
#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/unique_fd.hpp"
#include "dmm/nrd/messages.hpp"
#include "dmm/nrd/nrd_client.hpp"
#include "dmm/nrd/nrd_daemon.hpp"
#include "dmm/orchestrator.hpp"
#include "netns_topology.hpp"
#include "preload_fixture.hpp"

namespace dmm::test {

std::shared_ptr<spdlog::logger> quiet_logger();

// The test thread moves into a fresh namespace (only lo) for its life, and back afterwards.
class InsideNewNamespace {
public:
  InsideNewNamespace();
  ~InsideNewNamespace();

private:
  LoopbackNamespace ns_{"nrd"};
  kernel::UniqueFd home_;
};

// A peer that speaks raw bytes over the daemon's Unix socket (or a TCP endpoint): for what no client would send.
class RawPeer {
public:
  static RawPeer unix_socket(const std::string& path);
  static RawPeer tcp(const Endpoint& endpoint);
  void send(std::string_view bytes);
  void shutdown_write();
  // Reads what has arrived (non-blocking); true once the daemon closed the connection.
  bool read_available();
  const std::string& received() const { return received_; }
  // The frames received so far, decoded (undecodable ones end the list).
  std::vector<nrd::Message> messages() const;
  int fd() const { return fd_.get(); }

private:
  kernel::UniqueFd fd_;
  std::string received_;
  bool closed_ = false;
};

std::string hello_frame(bool subscribe = true, nrd::PeerRole role = nrd::PeerRole::orchestrator);

Policy host_policy();      // [a, b], version 1
Policy reversed_policy();  // [b, a]

class DaemonHarness {
public:
  DaemonHarness();
  ~DaemonHarness();

  // dmm.yaml with stacks a and b (the program's own namespace) and the policy [a, b]; nrd.yaml naming it with a
  // socket in the temp dir, the static algorithm, a 50 ms period, a state file, and `extra` lines.
  nrd::NrdDaemonConfig config(const std::string& extra = "") const;
  nrd::NrdDaemon& start(const std::string& extra = "");
  nrd::NrdDaemon& start(nrd::NrdDaemonConfig config);
  void stop_daemon() { daemon_.reset(); }
  nrd::NrdDaemon& daemon() { return *daemon_; }
  kernel::EpollExecutor& loop() { return *loop_; }
  std::string socket_path() const { return dir_.file("nrd.sock"); }
  const TempDir& dir() const { return dir_; }

  // Spins the loop until `done` holds (true) or `timeout` passes (false).
  bool spin(const std::function<bool()>& done, Duration timeout = std::chrono::seconds(5));
  void spin_for(Duration d);

  struct Subscriber {
    std::unique_ptr<Orchestrator> orchestrator;
    std::unique_ptr<nrd::NrdClient> client;
  };
  // An orchestrator (stacks a, b; holding `held`, by default the host policy v1) subscribed over the Unix socket.
  Subscriber subscriber(const std::string& name, nrd::NrdClientConfig tweak = {}, const Policy& held = host_policy());
  std::unique_ptr<nrd::NrdClient> ctl(const std::string& name, bool watch = false);

private:
  TempDir dir_;
  std::unique_ptr<kernel::EpollExecutor> loop_;
  std::unique_ptr<nrd::NrdDaemon> daemon_;
};

}  // namespace dmm::test
