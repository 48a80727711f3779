#pragma once
// The user-space stack instances (lwip-dpdk, and plug-in kinds) that dmm-stackd runs for every program on the host
// (DESIGN.md §2.4): one process owns each instance's port, so programs under dmm-run share it — several at once,
// forked children, workers that dropped root — instead of each starting its own lwIP on the same interface and
// resetting the others' connections. The program holds a real kernel fd for each session: a TCP session is a
// PumpedSession, a UDP one (one peer or many) a DatagramSession, whose program sockets live in the instance's
// DatagramPump namespace.
//
// Each session reports its path samples to the host config's dmm-nrd (nrd:), if any.
//
// Sessions are looked up by id for status(); a session that ended leaves its outcome behind for a while (a program
// asks for SO_ERROR after its fd reported the failure), bounded in number.
#include <spdlog/logger.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "dmm/host/host_config.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/kernel/host_world.hpp"
#include "dmm/nrd/nrd_client.hpp"
#include "dmm/service/messages.hpp"
#include "dmm/stack_registry.hpp"
#include "datagram_pump.hpp"
#include "hosted_session.hpp"
#include "service_listener.hpp"

namespace dmm::service {

class UserStackHost {
public:
  // Registers the kinds the instances need (default: libdmm_lwip_dpdk.so, as the preload shim loads it).
  using KindLoader = std::function<Status(StackRegistry&, kernel::EpollExecutor&)>;

  // Creates every user-space instance of `config` (kinds that are not `kernel`). An instance that cannot be made
  // fails the whole start, naming it: a daemon that runs serves every instance it names.
  static Result<std::unique_ptr<UserStackHost>> create(const host::HostConfig& config, kernel::EpollExecutor& executor,
                                                       std::shared_ptr<spdlog::logger> log,
                                                       const KindLoader& load_kinds = {});
  ~UserStackHost();

  bool serves(const std::string& stack) const { return stacks_.contains(stack); }
  std::vector<std::string> names() const;

  struct Opened {
    std::uint64_t session = 0;
    int program_end = -1;  // valid until sent() is called
  };
  // Opens a session; the errno-shaped error of the stack (ENETUNREACH, ...) when it cannot even start. `owner`
  // is the uid that may ask for its status.
  Result<Opened> open(const OpenRequest& request, uid_t owner);
  // A UDP socket on an instance with any number of peers (unconnected), bound where the request says.
  Result<Opened> bind(const BindRequest& request, uid_t owner);
  void sent(std::uint64_t session);  // the program's end was passed on: our copy closes

  struct Listening {
    std::uint64_t listener = 0;
    int program_end = -1;  // valid until listen_sent() is called
    Endpoint local;
  };
  // A listener on an instance; connections it accepts become sessions owned by `owner`.
  Result<Listening> listen(const ListenRequest& request, uid_t owner);
  void listen_sent(std::uint64_t listener);
  std::size_t listeners() const { return listeners_.size(); }
  // Where a session stands; `closed` for one unknown or not the asker's.
  StatusReply status(std::uint64_t session, uid_t asker) const;
  std::size_t live_sessions() const { return live_.size(); }

private:
  UserStackHost(kernel::EpollExecutor& executor, std::shared_ptr<spdlog::logger> log)
      : executor_(executor), log_(std::move(log)), world_(executor) {}
  void ended(std::uint64_t id);
  // Every kUdpCheck: UDP sessions and listeners whose program end no process holds any more end (a UDP socket
  // says nothing when its peer closes; nobody connects to a listener to find out).
  void check_udp_sessions();
  void close_gone_udp_sessions();
  Result<Opened> open_datagram(const std::string& stack, const DatagramOptions& options, bool nonblocking, uid_t owner);
  void close_gone_listeners();
  static constexpr auto kUdpCheck = std::chrono::seconds(2);
  // Every second, each live session's progress for dmm-nrd (sessions report once more when they end).
  void report_progress();

  struct Outcome {
    uid_t owner = 0;
    SessionState state = SessionState::closed;
    int error = 0;
    Endpoint local;
    std::string why;
  };
  struct Live {
    uid_t owner = 0;
    std::unique_ptr<HostedSession> session;
    std::string stack;
  };

  kernel::EpollExecutor& executor_;
  std::shared_ptr<spdlog::logger> log_;
  StackRegistry registry_;
  kernel::HostWorld world_;
  std::map<std::string, std::unique_ptr<DatagramPump>, std::less<>> pumps_;  // by instance
  TimerId udp_timer_ = 0;
  // The host config's dmm-nrd, told about the sessions' paths as the shim tells it about kernel sessions (a
  // sample source only: the daemon places nothing, so it subscribes to no policy).
  std::unique_ptr<nrd::NrdClient> nrd_;
  TimerId progress_timer_ = 0;
  std::map<std::string, std::unique_ptr<Stack>, std::less<>> stacks_;  // declared after pumps_: closes first
  std::map<std::uint64_t, Live> live_;
  struct LiveListener {
    uid_t owner = 0;
    std::unique_ptr<ServiceListener> listener;
  };
  std::map<std::uint64_t, LiveListener> listeners_;
  kernel::UniqueFd unix_diag_;  // NETLINK_SOCK_DIAG in the daemon's own namespace (its listeners' names live there)
  std::map<std::uint64_t, Outcome> ended_;
  std::deque<std::uint64_t> ended_order_;  // oldest first, to bound ended_
  std::uint64_t next_id_ = 1;
  static constexpr std::size_t kMaxOutcomes = 4096;
};

}  // namespace dmm::service
