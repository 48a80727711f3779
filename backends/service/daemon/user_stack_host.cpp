#include "user_stack_host.hpp"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <unordered_set>

#include "datagram_session.hpp"
#include "pumped_session.hpp"

namespace dmm::service {
namespace {

// libdmm_lwip_dpdk.so: DMM_LWIP_PLUGIN, else where the build and an installation put it relative to this program
// (bin/ and lib/ side by side), so that DPDK is loaded only by a daemon that runs such instances.
std::string plugin_path() {
  if (const char* forced = std::getenv("DMM_LWIP_PLUGIN"); forced && *forced) return forced;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "libdmm_lwip_dpdk.so";
  return (self.parent_path() / DMM_LIB_FROM_BIN / "libdmm_lwip_dpdk.so").lexically_normal().string();
}

}  // namespace

Result<std::unique_ptr<UserStackHost>> UserStackHost::create(const host::HostConfig& config,
                                                             kernel::EpollExecutor& executor,
                                                             std::shared_ptr<spdlog::logger> log,
                                                             const KindLoader& load_kinds) {
  std::unique_ptr<UserStackHost> host(new UserStackHost(executor, std::move(log)));
  bool any = false;
  for (const host::StackSpec& spec : config.stacks) any = any || spec.lwip_dpdk.has_value();
  if (!any) return host;
  const Status loaded = load_kinds ? load_kinds(host->registry_, executor) : host->registry_.load_plugin(plugin_path());
  if (!loaded) return make_error(loaded.error().code, "cannot load the lwip-dpdk kind: " + loaded.error().message);
  for (const host::StackSpec& spec : config.stacks) {
    if (!spec.lwip_dpdk) continue;
    auto stack = host->registry_.create(host::to_stack_config(spec), host->world_);
    if (!stack)
      return make_error(stack.error().code, config.file + ":" + std::to_string(spec.mark.line) + ":" +
                                                std::to_string(spec.mark.column) + ": stack '" + spec.name +
                                                "' cannot start: " + stack.error().message);
    auto pump = DatagramPump::create(spec.name, spec.lwip_dpdk->address.address,
                                     spec.lwip_dpdk->address6 ? std::optional(spec.lwip_dpdk->address6->address)
                                                              : std::nullopt,
                                     executor);
    if (!pump) return pump.error();
    host->pumps_.emplace(spec.name, std::move(*pump));
    host->world_.add_stack(**stack);
    host->stacks_.emplace(spec.name, std::move(*stack));
  }
  UserStackHost* self = host.get();
  host->udp_timer_ = executor.schedule(kUdpCheck, [self] { self->check_udp_sessions(); });
  if (config.nrd) {
    nrd::NrdClientConfig nrd;
    nrd.address = config.nrd->tcp ? nrd::NrdAddress::tcp_endpoint(*config.nrd->tcp)
                                  : nrd::NrdAddress::unix_socket(config.nrd->socket);
    nrd.name = "dmm-stackd";
    nrd.pid = static_cast<std::uint32_t>(::getpid());
    nrd.subscribe = false;
    host->nrd_ = std::make_unique<nrd::NrdClient>(executor, nrd, nullptr);
    host->nrd_->start();
    host->progress_timer_ = executor.schedule(std::chrono::seconds(1), [self] { self->report_progress(); });
  }
  return host;
}

UserStackHost::~UserStackHost() {
  if (udp_timer_ != 0) executor_.cancel(udp_timer_);
  if (progress_timer_ != 0) executor_.cancel(progress_timer_);
  listeners_.clear();
  live_.clear();
  if (nrd_) {
    (void)nrd_->flush_now();  // the last samples of the sessions just closed
    nrd_->stop();
  }  // connections close before the stacks they live on
  stacks_.clear();
}

std::vector<std::string> UserStackHost::names() const {
  std::vector<std::string> out;
  for (const auto& [name, stack] : stacks_) out.push_back(name);
  return out;
}

Result<UserStackHost::Opened> UserStackHost::open(const OpenRequest& request, uid_t owner) {
  const auto it = stacks_.find(request.stack);
  if (it == stacks_.end()) return make_error(EOPNOTSUPP, "not_served: no user-space stack '" + request.stack + "' here");
  if (request.proto == L4Proto::udp) {
    // A connected UDP socket: bound where the instance sends from towards the peer.
    DatagramOptions options;
    options.local.address.family = request.destination.address.family;
    options.peer = request.destination;
    return open_datagram(request.stack, options, request.nonblocking, owner);
  }
  const std::uint64_t id = next_id_++;
  auto session = PumpedSession::open(id, *it->second, request.destination, request.nonblocking, executor_,
                                     nrd_.get(), [this](std::uint64_t ended_id) { ended(ended_id); });
  if (!session) return session.error();
  Opened opened{id, (*session)->program_end()};
  live_.emplace(id, Live{owner, std::move(*session), request.stack});
  return opened;
}

Result<UserStackHost::Opened> UserStackHost::bind(const BindRequest& request, uid_t owner) {
  if (!stacks_.contains(request.stack))
    return make_error(EOPNOTSUPP, "not_served: no user-space stack '" + request.stack + "' here");
  DatagramOptions options;
  options.local = request.local;
  options.v6only = request.v6only;
  options.first_destination = request.first_destination;
  auto opened = open_datagram(request.stack, options, request.nonblocking, owner);
  if (!opened && opened.error().code == EADDRINUSE && request.local.port != 0) {
    // The port may be held by a socket its program has just closed (a server restarting): look now rather than
    // at the next check, as a kernel frees the port at close.
    close_gone_udp_sessions();
    opened = open_datagram(request.stack, options, request.nonblocking, owner);
  }
  return opened;
}

Result<UserStackHost::Opened> UserStackHost::open_datagram(const std::string& stack, const DatagramOptions& options,
                                                          bool nonblocking, uid_t owner) {
  const std::uint64_t id = next_id_++;
  auto session = DatagramSession::open(id, *stacks_.at(stack), *pumps_.at(stack), options, nonblocking, executor_,
                                       nrd_.get(), [this](std::uint64_t ended_id) { ended(ended_id); });
  if (!session) return session.error();
  Opened opened{id, (*session)->program_end()};
  live_.emplace(id, Live{owner, std::move(*session), stack});
  return opened;
}

void UserStackHost::close_gone_udp_sessions() {
  std::map<std::string, std::optional<std::unordered_set<std::uint64_t>>, std::less<>> live_sockets;
  std::vector<HostedSession*> gone;
  for (auto& [id, live] : live_) {
    HostedSession& s = *live.session;
    if (s.program_cookie() == 0 || s.state() != SessionState::established) continue;
    auto [at, fresh] = live_sockets.try_emplace(live.stack);
    if (fresh) at->second = pumps_.at(live.stack)->live_sockets();
    if (at->second && !at->second->contains(s.program_cookie())) gone.push_back(&s);
  }
  for (HostedSession* s : gone) s->program_closed();  // ended() runs later, from the executor
}

void UserStackHost::check_udp_sessions() {
  close_gone_udp_sessions();
  close_gone_listeners();
  udp_timer_ = executor_.schedule(kUdpCheck, [this] { check_udp_sessions(); });
}

void UserStackHost::report_progress() {
  for (auto& [id, live] : live_) live.session->report_progress(false);
  progress_timer_ = executor_.schedule(std::chrono::seconds(1), [this] { report_progress(); });
}

void UserStackHost::close_gone_listeners() {
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    ServiceListener& l = *it->second.listener;
    if (l.closed() || (unix_diag_ && !unix_socket_exists(unix_diag_.get(), l.inode()))) {
      log_->debug("event=listener_closed listener={} local={}", it->first, l.local().to_string());
      it = listeners_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<UserStackHost::Listening> UserStackHost::listen(const ListenRequest& request, uid_t owner) {
  const auto it = stacks_.find(request.stack);
  if (it == stacks_.end()) return make_error(EOPNOTSUPP, "not_served: no user-space stack '" + request.stack + "' here");
  if (!unix_diag_) {
    unix_diag_ = kernel::UniqueFd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    timeval tv{0, 200'000};
    if (unix_diag_) ::setsockopt(unix_diag_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  // A listener its program has just closed still holds its port until the next check: a server that restarts at
  // once (as with SO_REUSEADDR on a kernel socket) must find it free.
  close_gone_listeners();
  const std::uint64_t id = next_id_++;
  const std::string stack = request.stack;
  auto listener = ServiceListener::open(
      id, *it->second, request.local, request.nonblocking, request.v6only,
      [this, owner, stack](std::uint64_t session, std::unique_ptr<Connection> connection, kernel::UniqueFd ours) {
        auto pumped = PumpedSession::adopt(session, std::move(connection), std::move(ours), stack, executor_,
                                           nrd_.get(), [this](std::uint64_t ended_id) { ended(ended_id); });
        live_.emplace(session, Live{owner, std::move(pumped), stack});
      });
  if (!listener) return listener.error();
  (*listener)->next_session_id = [this] { return next_id_++; };
  Listening out{id, (*listener)->program_end(), (*listener)->local()};
  listeners_.emplace(id, LiveListener{owner, std::move(*listener)});
  return out;
}

void UserStackHost::listen_sent(std::uint64_t listener) {
  if (const auto it = listeners_.find(listener); it != listeners_.end()) it->second.listener->program_end_sent();
}

void UserStackHost::sent(std::uint64_t session) {
  if (const auto it = live_.find(session); it != live_.end()) it->second.session->program_end_sent();
}

void UserStackHost::ended(std::uint64_t id) {
  const auto it = live_.find(id);
  if (it == live_.end()) return;
  const HostedSession& s = *it->second.session;
  ended_[id] = Outcome{it->second.owner, s.state(), s.error(), s.local(), s.why()};
  ended_order_.push_back(id);
  while (ended_order_.size() > kMaxOutcomes) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
  log_->debug("event=session_ended session={} stack={} state={} errno={}", id, s.stack_name(), to_string(s.state()),
              s.error());
  live_.erase(it);
}

StatusReply UserStackHost::status(std::uint64_t session, uid_t asker) const {
  StatusReply reply;
  reply.session = session;
  reply.state = SessionState::closed;
  if (const auto it = live_.find(session); it != live_.end() && (asker == 0 || asker == it->second.owner)) {
    const HostedSession& s = *it->second.session;
    reply.state = s.state();
    reply.error = s.error();
    reply.local = s.local();
    reply.message = s.why();
  } else if (const auto e = ended_.find(session); e != ended_.end() && (asker == 0 || asker == e->second.owner)) {
    reply.state = e->second.state;
    reply.error = e->second.error;
    reply.local = e->second.local;
    reply.message = e->second.why;
  }
  return reply;
}

}  // namespace dmm::service
