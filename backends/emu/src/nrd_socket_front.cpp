#include "nrd_socket_front.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "dmm/nrd/framed_connection.hpp"
#include "dmm/nrd/messages.hpp"
#include "dmm/nrd/nrd_address.hpp"
#include "dmm/nrd/socket_ops.hpp"

namespace dmm::emu {
namespace {

constexpr Duration kHeartbeat = std::chrono::seconds(1);  // the shim reconnects after 3 silent intervals

}  // namespace

class NrdSocketFront::Peer final : public nrd::FramedConnection::Events {
public:
  Peer(NrdSocketFront& front, nrd::PeerId id) : front(front), id(id) {}
  void on_frame(nrd::Frame frame) override { front.on_frame(*this, std::move(frame)); }
  void on_protocol_error(const Error& error) override { front.drop(id, error.message); }
  void on_closed(const std::optional<Error>&) override { front.drop(id, ""); }

  NrdSocketFront& front;
  const nrd::PeerId id;
  std::unique_ptr<nrd::FramedConnection> connection;
  bool welcomed = false;
};

NrdSocketFront::NrdSocketFront(std::string path, kernel::EpollExecutor& loop, Executor& clock,
                               std::vector<StackId> stacks, const Policy& initial)
    : path_(std::move(path)), loop_(loop), clock_(clock), stacks_(std::move(stacks)),
      channel_(std::make_unique<nrd::SocketPolicyChannel>(std::make_shared<const Policy>(initial))),
      graveyard_(loop) {
  channel_->on_overflow = [this](nrd::PeerId id, const Error& why) { drop(id, why.message); };
}

NrdSocketFront::~NrdSocketFront() {
  loop_.cancel(heartbeat_timer_);
  for (auto& [id, peer] : peers_) channel_->unsubscribe(id);
  peers_.clear();
  graveyard_.clear();
  if (listener_) {
    loop_.unwatch(listener_.get());
    ::unlink(path_.c_str());
  }
}

Result<std::unique_ptr<NrdSocketFront>> NrdSocketFront::create(const std::string& socket_path,
                                                               kernel::EpollExecutor& loop, Executor& clock,
                                                               std::vector<StackId> stacks, const Policy& initial) {
  std::unique_ptr<NrdSocketFront> front(new NrdSocketFront(socket_path, loop, clock, std::move(stacks), initial));
  auto fd = nrd::listen_on(nrd::NrdAddress::unix_socket(socket_path), 0600);
  if (!fd) return make_error(fd.error().code, "nRD socket for the run's programs: " + fd.error().message);
  front->listener_ = std::move(*fd);
  NrdSocketFront* self = front.get();
  if (auto st = loop.watch(front->listener_.get(), EPOLLIN, [self](std::uint32_t) { self->accept_all(); }); !st)
    return st.error();
  front->heartbeat_timer_ = loop.schedule(kHeartbeat, [self] { self->heartbeat(); });
  return front;
}

void NrdSocketFront::accept_all() {
  for (int i = 0; i < 64; ++i) {
    kernel::UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    const nrd::PeerId id = next_peer_++;
    auto peer = std::make_unique<Peer>(*this, id);
    auto connection = nrd::FramedConnection::create(std::move(fd), false, loop_, *peer, {});
    if (!connection) continue;
    peer->connection = std::move(*connection);
    peers_.emplace(id, std::move(peer));
  }
}

void NrdSocketFront::on_frame(Peer& peer, nrd::Frame frame) {
  auto message = nrd::decode(frame);
  if (!message) return drop(peer.id, message.error().message);
  if (auto* hello = std::get_if<nrd::Hello>(&message.value())) {
    if (peer.welcomed) return drop(peer.id, "a second hello");
    nrd::Welcome welcome;
    welcome.daemon = "dmm-emu";
    welcome.version = channel_->in_force()->version;
    welcome.heartbeat_ms = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(kHeartbeat).count());
    welcome.stacks = stacks_;
    if (!peer.connection->send(nrd::encode(welcome))) return drop(peer.id, "");
    peer.welcomed = true;
    if (hello->subscribe) {
      if (!channel_->subscribe(peer.id, *peer.connection)) return drop(peer.id, "");
      ++subscribers_seen_;
    }
    return;
  }
  if (!peer.welcomed) return drop(peer.id, "hello first");
  if (auto* samples = std::get_if<nrd::Samples>(&message.value())) {
    for (PathSample& s : samples->samples) {
      if (!nrd_ || std::find(stacks_.begin(), stacks_.end(), s.stack) == stacks_.end()) continue;
      s.at = clock_.now();  // the run's time, as its own sessions' samples have it
      nrd_->on_sample(s);
      ++samples_;
    }
    return;
  }
  if (std::holds_alternative<nrd::Heartbeat>(message.value())) return;
  drop(peer.id, "a " + std::string(nrd::to_string(nrd::type_of(message.value()))) + " message is not served here");
}

void NrdSocketFront::drop(nrd::PeerId id, const std::string& last_word) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  std::unique_ptr<Peer> peer = std::move(it->second);
  peers_.erase(it);
  channel_->unsubscribe(id);
  if (!last_word.empty()) {
    ++rejected_;
    if (peer->connection) peer->connection->close_with(nrd::encode(nrd::ErrorMessage{"unexpected", last_word}));
  } else if (peer->connection) {
    peer->connection->close();
  }
  graveyard_.bury(std::move(peer));  // we may be inside its callback
}

void NrdSocketFront::heartbeat() {
  heartbeat_timer_ = loop_.schedule(kHeartbeat, [this] { heartbeat(); });
  const std::string frame = nrd::encode(nrd::Heartbeat{channel_->in_force()->version, 0, 0});
  std::vector<nrd::PeerId> slow;
  for (auto& [id, peer] : peers_)
    if (peer->welcomed && !peer->connection->send(frame)) slow.push_back(id);
  for (nrd::PeerId id : slow) drop(id, "");
}

}  // namespace dmm::emu
