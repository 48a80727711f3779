#pragma once
// dmm-stackd's body (backends/service/README.md): the host's stack service. It opens every kernel instance's network
// namespace named in the host config, listens on `service.socket`, and makes sockets inside those namespaces for
// peers that may not enter them themselves, passing them over the connection (SCM_RIGHTS). Each peer is known by
// the credentials the kernel recorded when it connected (SO_PEERCRED, SO_PEERGROUPS); each request is admitted
// against its stack's `allow:`; each socket is made as the peer (fsuid/fsgid), so it is the peer's socket.
//
// One EpollExecutor thread does everything; a request is served at once, without waiting on anything but the
// kernel. A library so that tests run the real daemon in-process; tools/dmm_stackd.cpp is only its command line.
//
// Hostile peers: every message is bounded (kMaxMessage, by the socket type); bytes that are not the protocol, a
// descriptor sent to the daemon, a second hello, or no hello in time get an `error` message and the connection is
// closed; a peer that does not read its replies is dropped before they pile up; a readiness event serves at most a
// few messages of one peer, so peers take turns. Counted by reason, logged as `event=NAME key=value`.
#include <spdlog/logger.h>

#include <cstdint>
#include <functional>
#include <span>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "dmm/host/host_config.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/instance_sockets.hpp"
#include "dmm/service/messages.hpp"
#include "dmm/service/peer_identity.hpp"
#include "dmm/service/seqpacket_listener.hpp"
#include "dmm/stack_registry.hpp"

namespace dmm::service {

class UserStackHost;

// What is not in dmm.yaml: fixed for dmm-stackd, shorter in tests.
struct StackServiceOptions {
  Duration hello_timeout = std::chrono::seconds(5);  // a connection that has not said hello by then is closed
  std::size_t messages_per_wakeup = 16;              // per peer per readiness event: peers take turns
  // Replies a peer has not read yet (SIOCOUTQ of its connection). A client waits for each reply, so it never has
  // more than one or two unread (after a timeout); a peer with more is not reading, and every further reply
  // would add up to 64 sockets in flight towards it.
  std::size_t max_unread_reply_bytes = 8 * 1024;
  // Registers the kinds of the user-space instances the daemon runs (default: the lwip-dpdk plug-in).
  std::function<Status(StackRegistry&, kernel::EpollExecutor&)> load_user_kinds;
};

struct ServiceCounters {
  std::uint64_t peers_accepted = 0;
  std::uint64_t requests_granted = 0;
  std::uint64_t sockets_made = 0;
  std::uint64_t sessions_opened = 0;  // of user-space instances
  std::map<std::string, std::uint64_t> peers_rejected;     // too_many_peers, credentials_unknown
  std::map<std::string, std::uint64_t> requests_refused;   // not_allowed, unknown_stack, refused_kind, not_served,
                                                           // socket_failed
  std::map<std::string, std::uint64_t> messages_rejected;  // a DecodeProblem's name, unexpected, unexpected_fds
  std::map<std::string, std::uint64_t> peers_dropped;      // slow_peer, no_hello, protocol_error
};

class StackServiceDaemon {
public:
  // Opens the namespace of every kernel stack with a `netns:` (ENOENT / EINVAL naming the stack when one cannot be
  // opened: the daemon does not start without all of them) and the listening socket (EADDRINUSE when a live daemon
  // answers there). EINVAL if `config` has no `service:` section. Nothing is served before the executor runs.
  static Result<std::unique_ptr<StackServiceDaemon>> create(host::HostConfig config, kernel::EpollExecutor& executor,
                                                            std::shared_ptr<spdlog::logger> log,
                                                            StackServiceOptions options = {});
  ~StackServiceDaemon();  // closes every connection and removes the socket file (if it is still ours)
  StackServiceDaemon(const StackServiceDaemon&) = delete;
  StackServiceDaemon& operator=(const StackServiceDaemon&) = delete;

  const ServiceCounters& counters() const { return counters_; }
  std::size_t peers() const { return peers_.size(); }
  const std::string& socket_path() const { return config_.service->socket; }
  // The stacks served (kernel instances with a netns, user-space instances), in config order.
  std::vector<StackId> served_stacks() const;
  // Serves `next` (the host config as edited) from now on, as far as a running daemon can (config_reload.hpp):
  // admission and kernel instances at once. Returns what waits for a restart (stack names, "service"); an error,
  // and the old config kept whole, when a new kernel instance's namespace cannot be opened.
  Result<std::vector<std::string>> reload(host::HostConfig next);
  // Looks at the config file every `every` (its inode, size and mtime: editors replace files) and reloads it when
  // it changed. An edit that does not load (FILE:LINE:COL in the log) leaves the running config as it is; what the
  // reload could not apply is passed to `needs_restart` (and logged).
  void watch_config(Duration every, std::function<void(const std::vector<std::string>&)> needs_restart);
  // Sessions and listeners of the user-space instances that are open (an idle daemon has none).
  std::size_t live_sessions() const;

private:
  struct Peer;
  using PeerId = std::uint64_t;

  StackServiceDaemon(host::HostConfig config, kernel::EpollExecutor& executor, std::shared_ptr<spdlog::logger> log,
                     StackServiceOptions options);
  Status open();
  void accept_all();
  void on_readable(PeerId id);
  // Handles one message; false when the peer was dropped (and must not be touched any more).
  bool on_message(Peer& peer, Message& message);
  bool on_hello(Peer& peer, const Hello& hello);
  bool on_sockets(Peer& peer, const SocketsRequest& request);
  bool refuse_request(Peer& peer, const SocketsRequest& request, const Error& why);
  bool on_open(Peer& peer, const OpenRequest& request);
  bool refuse_open(Peer& peer, const OpenRequest& request, const Error& why);
  bool on_status(Peer& peer, const StatusRequest& request);
  bool on_listen(Peer& peer, const ListenRequest& request);
  bool refuse_listen(Peer& peer, const ListenRequest& request, const Error& why);
  bool on_bind(Peer& peer, const BindRequest& request);
  // What open, listen and bind share: a peer that does not read its replies is dropped (true: it was); a request
  // for a stack that is not in the config, not run here, or not the peer's to use gets the refusal returned.
  bool dropped_for_unread_replies(Peer& peer);
  std::optional<Error> user_request_refusal(const Peer& peer, const std::string& stack) const;
  // Sends `opened` with the program's end of a session; false when the peer was dropped.
  bool send_opened(Peer& peer, std::uint32_t id, std::uint64_t session, int program_end);
  // Logs a refused open, listen or bind (`event`) and answers it with a Reply carrying the errno and reason.
  template <typename Reply>
  bool refuse_with(Peer& peer, std::uint32_t id, const std::string& stack, const std::string& where, const Error& why,
                   const char* event, const char* fallback);
  // Sends one answer; false (and the peer dropped) when it cannot.
  bool answer(Peer& peer, const Message& message, std::span<const int> fds = {});
  // Sends `error` and closes the connection; `reason` is counted and logged.
  void reject(Peer& peer, const std::string& reason, int code, const std::string& message);
  void drop(PeerId id, const std::string& reason, const std::string& detail);

  void check_config_file();
  struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    std::int64_t mtime_ns = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
  };
  static std::optional<FileStamp> stamp_of(const std::string& path);

  host::HostConfig config_;
  std::optional<FileStamp> config_stamp_;  // of the file as last loaded
  Duration config_every_{0};
  TimerId config_timer_ = 0;
  std::function<void(const std::vector<std::string>&)> needs_restart_;
  kernel::EpollExecutor& executor_;
  std::shared_ptr<spdlog::logger> log_;
  StackServiceOptions options_;
  std::map<std::string, kernel::InstanceSockets, std::less<>> instances_;  // served stacks by name
  std::unique_ptr<UserStackHost> user_;  // the user-space instances it runs
  SeqpacketListener listener_;
  std::map<PeerId, std::unique_ptr<Peer>> peers_;
  PeerId next_peer_ = 1;
  ServiceCounters counters_;
};

}  // namespace dmm::service
