#include "placement.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "real_calls.hpp"
#include "placement_warning.hpp"
#include "record_ops.hpp"
#include "socket_swap.hpp"
#include "user_sockopt.hpp"

namespace dmm::preload {
namespace {

L4Proto proto_of(const FdRecord& rec) { return rec.type == SOCK_STREAM ? L4Proto::tcp : L4Proto::udp; }

// What putting a socket on one stack came to, beyond success: for the decision log and the warning line.
struct PutOutcome {
  std::string why;              // why the stack could not take the socket
  int options_refused = 0;      // recorded options the new socket did not take
  int epoll_refused = 0;        // epoll registrations the kernel would not make again for the new socket
  bool predicted = false;       // socket() had made it on this stack already
  bool known_unusable = false;  // the stack was unusable from the start (and the start-up warning said so)
};

void log_decision(Shim& shim, int fd, const Placement& p, std::string_view stack, int rule,
                  std::string_view fallback_from, std::string_view error, const PutOutcome& outcome = {},
                  const FdRecord* rec = nullptr) {
  if (!shim.log().enabled()) return;
  const std::string dst = p.request.dst.to_string();
  DecisionLine line;
  line.fd = fd;
  line.event = to_string(p.trigger);
  line.dst = dst;
  line.proto = to_string(p.request.proto);
  line.intent = to_string(p.request.intent);
  line.stack = stack;
  line.rule = rule;
  line.policy_version = p.choice.version;
  line.fallback_from = fallback_from;
  line.error = error;
  line.options_refused = outcome.options_refused;
  line.epoll_refused = outcome.epoll_refused;
  line.predicted = outcome.predicted;
  if (rec && !rec->original) {
    line.options_dropped = rec->options_overflow;
    line.epoll_dropped = rec->epoll_overflow;
  }
  shim.log().write(line);
}

// Replaces the socket behind `fd` (its slot locked by us) by a new one from `make(type)` — `type` carries
// SOCK_CLOEXEC and the program's O_NONBLOCK — with the recorded options replayed and the other status flags
// copied, dup3'ed onto the same fd number (keeping its FD_CLOEXEC). `describe(rec)` then records what the new
// socket is (stack, ...), and dup'ed aliases of the placeholder follow it into state `aliases_end_in`.
// 0, or an errno with `why` set; `refused`: how many recorded options the new socket did not take.
template <typename Make, typename Describe>
int replace_socket(int fd, FdSlot& slot, Make&& make, Describe&& describe, FdState aliases_end_in,
                   PutOutcome& outcome) {
  std::string& why = outcome.why;
  FdRecord& rec = slot.record;
  // The program's flags live on the current socket (placeholder, or the stack we fall back from), set there by
  // socket(SOCK_NONBLOCK|SOCK_CLOEXEC), fcntl or ioctl(FIONBIO): read them from the kernel rather than shadow
  // every call that can change them.
  FileState state;
  if (const int err = read_file_state(fd, state, why); err != 0) return err;
  // SOCK_CLOEXEC on the temporary: another thread may fork+exec before we dup3 it into place.
  const int type = rec.type | SOCK_CLOEXEC | ((state.status_flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0);
  Result<int> made = [&] {
    InsideShim guard;  // the stack makes its own socket calls: they must not come back into the shim
    return make(type);
  }();
  if (!made) {
    why = made.error().message;
    return made.error().code != 0 ? made.error().code : EIO;
  }
  const int fresh = *made;
  outcome.options_refused = replay_options(rec, fd, fresh);
  struct stat st {};
  if (fstat(fresh, &st) != 0) {
    const int err = errno;
    why = std::string("fstat: ") + std::strerror(err);
    real().close(fresh);
    return err;
  }
  const SocketId old_identity = identity_of(rec);
  if (const int err = swap_socket(fd, rec, fresh, state, why, outcome.epoll_refused); err != 0) {
    real().close(fresh);
    return err;
  }
  rec.dev = st.st_dev;
  rec.ino = st.st_ino;
  describe(rec);
  if (rec.aliased) move_aliases(fd, old_identity.dev, old_identity.ino, fresh, rec, aliases_end_in);
  real().close(fresh);
  return 0;
}

// Puts `fd` (its slot locked by us) on user-space stack `index`: a UserSession whose application end replaces the
// placeholder under the same fd number. Only sessions that start by connecting (connect, or the first
// sendto/sendmsg of UDP) go there; a listener on a user-space stack is refused (EOPNOTSUPP) so that the ranked
// list moves on. 0, or an errno with `why`.
int put_on_user_stack(int fd, FdSlot& slot, int index, Placement& p, PutOutcome& outcome) {
  std::string& why = outcome.why;
  Shim& shim = *active_shim();
  const ShimStack& stack = shim.stack(index);
  UserStacks* stacks = shim.user_stacks();
  Stack* user_stack = stacks ? stacks->stack(stack.name) : nullptr;
  if (!user_stack) {
    why = stack.unusable_reason.empty() ? "user-space stack '" + stack.name + "' is not running" : stack.unusable_reason;
    return ENETUNREACH;
  }
  if (!stacks->in_owner_process()) {
    why = "user-space stacks run in the process that started them, not in a forked child";
    return ENETUNREACH;
  }
  if (p.trigger == Trigger::listen || p.trigger == Trigger::bind) {
    why = "listening on a user-space stack through the preload shim is not supported";
    return EOPNOTSUPP;
  }
  FdRecord& rec = slot.record;
  FileState state;
  if (const int err = read_file_state(fd, state, why); err != 0) return err;
  auto mirror = [&] {
    InsideShim guard;
    return ReadinessMirror::create(state.status_flags & O_NONBLOCK);
  }();
  if (!mirror) {
    why = mirror.error().message;
    return mirror.error().code;
  }
  auto session = std::make_shared<UserSession>(*stacks, p.request.proto, std::move(*mirror), p.request.dst);
  if (Status s = session->start_connect(*user_stack); !s) {
    why = s.error().message;
    return s.error().code != 0 ? s.error().code : EIO;
  }
  // The options the program set before the decision, and what getsockopt should read back of them.
  for (std::uint8_t i = 0; i < rec.option_count; ++i) {
    const RecordedOption& o = rec.options[i];
    apply_recorded_option(*session, o.level, o.name, o.value, o.length);
    session->remember_option(o.level, o.name, o.value, o.length);
  }
  const int app = session->mirror().app_fd();
  struct stat st {};
  if (fstat(app, &st) != 0) {
    const int err = errno;
    why = std::string("fstat: ") + std::strerror(err);
    session->abandon();
    return err;
  }
  const SocketId old_identity = identity_of(rec);
  if (const int err = swap_socket(fd, rec, app, state, why, outcome.epoll_refused); err != 0) {
    session->abandon();
    return err;
  }
  (void)session->mirror().release_app_end();  // the program's fd is its copy now; ours is closed below
  session->set_app_identity(st.st_dev, st.st_ino);
  rec.dev = st.st_dev;
  rec.ino = st.st_ino;
  rec.stack = index;
  rec.original = false;
  rec.placeholder_stack = kNoStack;
  rec.session = stacks->sessions().add(session);
  if (rec.aliased) move_aliases(fd, old_identity.dev, old_identity.ino, app, rec, FdState::user);
  real().close(app);
  slot.state.store(FdState::user, std::memory_order_release);
  p.user_session = std::move(session);
  return 0;
}

// Where an unconnected UDP socket of dmm-stackd's is bound: a server's bind address; for a socket that first
// sends, where the program bound it (port 0: the instance picks), else the any address of its family.
Endpoint unconnected_local(const FdRecord& rec, const Placement& p) {
  if (p.trigger == Trigger::bind) return p.request.dst;
  if (p.bound.bound())
    if (auto bound = endpoint_of(reinterpret_cast<const sockaddr*>(&p.bound.storage), p.bound.length)) return *bound;
  Endpoint any;
  any.address.family = rec.domain == AF_INET6 ? IpFamily::v6 : IpFamily::v4;
  return any;
}

// IPV6_V6ONLY as the placeholder has it (set by the program, or the namespace's bindv6only default).
bool v6only_of(int fd, const FdRecord& rec) {
  int v6only = 0;
  socklen_t len = sizeof v6only;
  if (rec.domain == AF_INET6) (void)real().getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len);
  return v6only != 0;
}

// A listener: the daemon listens on the instance and hands over an AF_UNIX listener whose connections are the
// instance's (accept() reads each one's addresses, service_fd.hpp). It replaces the placeholder like a session.
int put_listener_on_service_stack(int fd, FdSlot& slot, int index, Placement& p, const FileState& state,
                                  ServiceLink& link, PutOutcome& outcome) {
  std::string& why = outcome.why;
  const ShimStack& stack = active_shim()->stack(index);
  if (p.request.proto != L4Proto::tcp) {
    why = "a UDP server port on a user-space stack is not supported";
    return EOPNOTSUPP;
  }
  // IPV6_V6ONLY travels: nginx and redis listen on [::] with it and on 0.0.0.0 beside it.
  ServiceLink::Failure failure = ServiceLink::Failure::none;
  auto listening = link.listen(stack.name, p.request.dst, (state.status_flags & O_NONBLOCK) != 0,
                               v6only_of(fd, slot.record), failure);
  if (!listening) {
    why = listening.error().message;
    const int code = listening.error().code;
    if (failure != ServiceLink::Failure::refused || code == EOPNOTSUPP || code == ENOENT) return ENETUNREACH;
    return code != 0 ? code : EIO;
  }
  struct stat st {};
  if (fstat(listening->fd.get(), &st) != 0) {
    const int err = errno;
    why = std::string("fstat: ") + std::strerror(err);
    return err;
  }
  FdRecord& rec = slot.record;
  const SocketId old_identity = identity_of(rec);
  if (const int err = swap_socket(fd, rec, listening->fd.get(), state, why, outcome.epoll_refused); err != 0)
    return err;
  rec.dev = st.st_dev;
  rec.ino = st.st_ino;
  rec.stack = index;
  rec.original = false;
  rec.placeholder_stack = kNoStack;
  describe_service_end(rec, {listening->listener, Endpoint{}, listening->local, /*settled=*/true, /*listener=*/true});
  if (rec.aliased) move_aliases(fd, old_identity.dev, old_identity.ino, listening->fd.get(), rec, FdState::service);
  slot.state.store(FdState::service, std::memory_order_release);
  p.service_session = listening->listener;
  return 0;
}

// Puts `fd` (its slot locked by us) on user-space instance `index`, which dmm-stackd runs: the daemon opens the
// session and hands over the program's end of it, which replaces the placeholder under the same fd number (its
// status flags, FD_CLOEXEC and epoll registrations follow): a TCP session or listener, a connected UDP socket, or
// an unconnected one (a UDP server's bind, a first sendto). A daemon that cannot be reached, or a destination the
// instance has no route to, is ENETUNREACH (or the stack's own path error), moving down the ranked list. 0, or an
// errno with `why`.
int put_on_service_stack(int fd, FdSlot& slot, int index, Placement& p, PutOutcome& outcome) {
  std::string& why = outcome.why;
  Shim& shim = *active_shim();
  const ShimStack& stack = shim.stack(index);
  ServiceLink* link = shim.sources().service();
  if (!link) {
    why = "user-space stack '" + stack.name + "' is run by dmm-stackd, and the host config has no `service:`";
    return ENETUNREACH;
  }
  FdRecord& rec = slot.record;
  FileState state;
  if (const int err = read_file_state(fd, state, why); err != 0) return err;
  if (p.trigger == Trigger::listen) return put_listener_on_service_stack(fd, slot, index, p, state, *link, outcome);
  const bool nonblocking = (state.status_flags & O_NONBLOCK) != 0;
  // UDP that does not connect — a server's bind to its port, or a first sendto — gets a socket with any peers.
  const bool unconnected = p.request.proto == L4Proto::udp && p.trigger != Trigger::connect;
  ServiceLink::Failure failure = ServiceLink::Failure::none;
  const std::optional<Endpoint> first_destination =
      p.trigger == Trigger::bind ? std::nullopt : std::optional<Endpoint>(p.request.dst);
  auto opened = unconnected ? link->bind_datagram(stack.name, unconnected_local(rec, p), nonblocking,
                                                  v6only_of(fd, rec), first_destination, failure)
                            : link->open_session(stack.name, p.request.proto, p.request.dst, nonblocking, failure);
  if (!opened) {
    why = opened.error().message;
    const int code = opened.error().code;
    if (failure != ServiceLink::Failure::refused || code == EOPNOTSUPP || code == ENOENT) return ENETUNREACH;
    return code != 0 ? code : EIO;
  }
  // A UDP session's end is a real UDP socket: the options the program set before the decision (IP_PKTINFO,
  // SO_RCVBUF, timestamps...) go onto it, as onto a kernel instance's new socket. A TCP session's AF_UNIX end takes
  // the socket-level ones (SO_SNDTIMEO bounds a blocking connect, SO_RCVTIMEO a read) and answers the others from
  // the record (service_fd.hpp).
  if (p.request.proto == L4Proto::udp) {
    outcome.options_refused = replay_options(rec, fd, opened->fd.get());
  } else {
    replay_socket_level_options(rec, opened->fd.get());
  }
  struct stat st {};
  if (fstat(opened->fd.get(), &st) != 0) {
    const int err = errno;
    why = std::string("fstat: ") + std::strerror(err);
    return err;
  }
  const SocketId old_identity = identity_of(rec);
  if (const int err = swap_socket(fd, rec, opened->fd.get(), state, why, outcome.epoll_refused); err != 0) return err;
  rec.dev = st.st_dev;
  rec.ino = st.st_ino;
  rec.stack = index;
  rec.original = false;
  rec.placeholder_stack = kNoStack;
  // A datagram session is usable at once; a TCP one is settled when the daemon says so.
  describe_service_end(rec, {opened->session, unconnected ? Endpoint{} : p.request.dst, std::nullopt,
                             /*settled=*/p.request.proto == L4Proto::udp, /*listener=*/false});
  // A UDP session's end is a real connected UDP socket (addresses, options, errors are the kernel's): the shim
  // stays out of its way entirely, as for a kernel instance's socket.
  const FdState placed = p.request.proto == L4Proto::udp ? FdState::placed : FdState::service;
  if (rec.aliased) move_aliases(fd, old_identity.dev, old_identity.ino, opened->fd.get(), rec, placed);
  slot.state.store(placed, std::memory_order_release);
  // The call that decided is then made on the new socket: a bind is done (the daemon bound it), a connected
  // session's send goes to its peer, and an unconnected socket's sendto is the real one, address and all.
  p.service_session = unconnected && p.trigger != Trigger::bind ? 0 : opened->session;
  return 0;
}  // our copy of the program's end closes with `opened`: fd is it now

// The placeholder can stay as it is for stack `index`: it was made there (in the program's own namespace for an
// instance of that namespace, or on the stack socket() predicted) and nothing has replaced it since.
bool placeholder_fits(const FdRecord& rec, int index, const ShimStack& stack) {
  if (!rec.original) return false;
  if (rec.placeholder_stack != kNoStack) return rec.placeholder_stack == index;
  return stack.keeps_placeholder(rec.type);
}

// Puts `fd` (its slot locked by us) on stack `index`. 0 on success, else an errno with `outcome.why` set.
int put_on(int fd, FdSlot& slot, int index, Placement& p, PutOutcome& outcome) {
  Shim& shim = *active_shim();
  const ShimStack& stack = shim.stack(index);
  FdRecord& rec = slot.record;
  const BoundAddress& bound = p.bound;
  if (!stack.usable) {
    // Not EAFNOSUPPORT, which sends people hunting for IPv4/IPv6 problems: this path has no way out.
    outcome.why = stack.unusable_reason;
    outcome.known_unusable = true;
    return ENETUNREACH;
  }
  if (stack.served) return put_on_service_stack(fd, slot, index, p, outcome);
  if (stack.user_space) return put_on_user_stack(fd, slot, index, p, outcome);
  if (placeholder_fits(rec, index, stack)) {
    outcome.predicted = rec.placeholder_stack == index;
    rec.stack = index;
    slot.state.store(FdState::placed, std::memory_order_release);
    return 0;
  }
  SocketPools* pools = stack.poolable(rec.type, rec.protocol) ? shim.pools() : nullptr;
  bool nonblocking = false;
  const int err = replace_socket(
      fd, slot,
      [&](int type) -> Result<int> {
        nonblocking = (type & SOCK_NONBLOCK) != 0;
        PooledSocket pooled;
        if (pools && pools->take(PoolKey{index, rec.domain, rec.type, nonblocking}, pooled)) return pooled.fd;
        return stack.create_socket(rec.domain, type, rec.protocol);
      },
      [&](FdRecord& r) {
        r.stack = index;
        r.original = false;
      },
      FdState::placed, outcome);
  if (err != 0) return err;
  if (pools) pools->want(PoolKey{index, rec.domain, rec.type, nonblocking});
  rec.session = 0;
  slot.state.store(FdState::placed, std::memory_order_release);
  // Bind only now that the old socket is closed (dup3 dropped the last reference): it still held the port, and
  // an instance in the same namespace (MPTCP substitution on the program's own namespace) would get EADDRINUSE.
  // If the address does not exist in this instance's namespace, the ranked list moves on; the fd is then an
  // unbound socket of this stack until the next one takes over.
  if (bound.bound() && real().bind(fd, reinterpret_cast<const sockaddr*>(&bound.storage), bound.length) != 0) {
    const int err = errno;
    outcome.why = std::string("bind: ") + std::strerror(err);
    return err;
  }
  return 0;
}

// Walks the ranked list from `from`; logs the outcome, and says on stderr when a stack failed (placement_warning).
// True if the socket is on a stack.
bool walk(int fd, FdSlot& slot, Placement& p, int from, std::string failed_stack, std::string failed_why,
          int failed_errno) {
  Shim& shim = *active_shim();
  // A fall-back over a stack that was unusable from the start is not news (the start-up warning named it once);
  // one that failed now is, and so is a session that no stack could take.
  bool news = !failed_stack.empty();
  for (int r = from; r < p.choice.ranked_count; ++r) {
    const int index = p.choice.ranked[static_cast<std::size_t>(r)];
    PutOutcome outcome;
    const int err = put_on(fd, slot, index, p, outcome);
    if (err == 0) {
      p.rank = r;
      p.can_fall_back = r + 1 < p.choice.ranked_count;
      if (p.trigger == Trigger::connect && p.request.proto == L4Proto::tcp &&
          shim.remember_tcp_choice(slot.record.domain, slot.record.intent, index) && shim.pools() &&
          shim.stack(index).predictable())
        shim.pools()->want(PoolKey{index, slot.record.domain, SOCK_STREAM, slot.record.made_nonblocking});
      log_decision(shim, fd, p, shim.stack(index).name, p.choice.rule, failed_stack, failed_why, outcome,
                   &slot.record);
      if (news)
        warn_placement(fd, p.request, to_string(p.trigger), failed_stack, failed_why, shim.stack(index).name, 0);
      return true;
    }
    failed_stack = shim.stack(index).name;
    failed_why = outcome.why;
    failed_errno = err;
    news = news || !outcome.known_unusable;
  }
  p.failed_errno = failed_errno != 0 ? failed_errno : ENETUNREACH;
  log_decision(shim, fd, p, {}, p.choice.rule, failed_stack,
               failed_why.empty() ? std::string_view("no usable stack") : std::string_view(failed_why));
  warn_placement(fd, p.request, to_string(p.trigger), failed_stack,
                 failed_why.empty() ? std::string("no usable stack") : failed_why, {}, p.failed_errno);
  return false;
}

bool served_address(const Shim& shim, const IpAddress& address) {
  for (int i = 0; i < shim.stack_count(); ++i) {
    const ShimStack& stack = shim.stack(i);
    if (stack.served && std::find(stack.addresses.begin(), stack.addresses.end(), address) != stack.addresses.end())
      return true;
  }
  return false;
}

Placement place_pending_or_throw(int fd, FdSlot& slot, const Endpoint& dst, Trigger trigger) {
  Placement p;
  Shim& shim = *active_shim();
  SlotLock lock(slot);
  if (lock.reentered() || slot.state.load(std::memory_order_relaxed) != FdState::pending) return p;
  FdRecord& rec = slot.record;
  // UDP bound to a fixed port is a server socket: it must receive in its stack's namespace before it ever
  // sends, so bind decides; so does UDP bound to an address of an instance dmm-stackd runs (dig -b ADDRESS), which
  // no namespace of this host has. Other binds (TCP, port 0) leave the decision to connect/sendto/listen.
  if (trigger == Trigger::bind && (rec.type != SOCK_DGRAM || (dst.port == 0 && !served_address(shim, dst.address))))
    return p;
  p.managed = true;
  p.trigger = trigger;
  p.request = SessionRequest{dst, proto_of(rec), static_cast<Intent>(rec.intent)};
  Result<Choice> choice = shim.orchestrator().select(p.request);
  if (!choice) {
    // No rule covers the session: it is not DMM's to move. It stays where the program opened it, as without
    // DMM, and the log says so.
    rec.stack = shim.own_stack();
    slot.state.store(FdState::placed, std::memory_order_release);
    log_decision(shim, fd, p, {}, -1, {}, "no policy rule matches");
    return p;
  }
  p.choice = *choice;
  // The socket is about to be replaced (its first choice does not keep it as it is): make sure the fd still is
  // the socket this record describes — it may have been closed behind the shim's back and its number reused —
  // before anything is put in its place. A socket that stays as it is needs no such check (and the decision saves
  // an fstat: issue 11's connect cost).
  const int first = p.choice.ranked_count > 0 ? p.choice.ranked[0] : kNoStack;
  const bool kept = first != kNoStack && shim.stack(first).usable && !shim.stack(first).user_space &&
                    placeholder_fits(rec, first, shim.stack(first));
  if (!kept && !still_same_socket(fd, rec, /*undecided=*/true)) {
    slot.state.store(FdState::untracked, std::memory_order_release);
    return Placement{};
  }
  // Only a socket the program bound has an address worth replaying (one getsockname saved per connect otherwise).
  if (rec.bound) p.bound = bound_address_of(fd);
  walk(fd, slot, p, 0, {}, {}, 0);
  return p;
}

bool fall_back_or_throw(int fd, FdSlot& slot, Placement& p, int err) {
  SlotLock lock(slot);
  const FdState state = slot.state.load(std::memory_order_relaxed);
  if (lock.reentered() || (state != FdState::placed && state != FdState::service)) return false;
  if (!still_same_socket(fd, slot.record)) return false;  // closed or replaced meanwhile: not ours to move
  Shim& shim = *active_shim();
  const std::string failed = shim.stack(p.choice.ranked[static_cast<std::size_t>(p.rank)]).name;
  const int saved_failed = p.failed_errno;
  p.service_session = 0;  // the next stack's socket replaces the session's end (the daemon ends that session)
  const bool moved = walk(fd, slot, p, p.rank + 1, failed, std::strerror(err), err);
  if (!moved) p.failed_errno = saved_failed;  // the socket stays as it was; the caller reports `err`
  return moved;
}

bool move_home_or_throw(int fd, FdSlot& slot) {
  SlotLock lock(slot);
  if (lock.reentered() || slot.state.load(std::memory_order_relaxed) != FdState::pending) return false;
  FdRecord& rec = slot.record;
  if (rec.placeholder_stack == kNoStack || !rec.original || !still_same_socket(fd, rec, /*undecided=*/true))
    return false;
  const BoundAddress bound = rec.bound ? bound_address_of(fd) : BoundAddress{};
  PutOutcome outcome;
  const int err = replace_socket(
      fd, slot,
      [&](int type) -> Result<int> {
        const int made = real().socket(rec.domain, type, rec.protocol);
        if (made < 0) return make_error(errno, std::string("socket: ") + std::strerror(errno));
        return made;
      },
      [](FdRecord& r) { r.placeholder_stack = kNoStack; },  // still `original`: an own-namespace stack keeps it
      FdState::pending, outcome);
  if (err != 0) return false;
  if (bound.bound() && real().bind(fd, reinterpret_cast<const sockaddr*>(&bound.storage), bound.length) != 0)
    rec.bound = false;  // the port was taken meanwhile: the program sees an unbound socket rather than none
  return true;
}

}  // namespace

bool move_predicted_placeholder_home(int fd) noexcept {
  if (!active_shim() || inside_shim()) return false;
  FdSlot* slot = fd_table().find(fd);
  if (!slot || slot->state.load(std::memory_order_acquire) != FdState::pending) return false;
  const int saved_errno = errno;
  bool moved = false;
  try {
    moved = move_home_or_throw(fd, *slot);
  } catch (...) {
    moved = false;
  }
  errno = saved_errno;
  return moved;
}

std::string_view to_string(Trigger trigger) {
  switch (trigger) {
    case Trigger::connect: return "connect";
    case Trigger::sendto: return "sendto";
    case Trigger::sendmsg: return "sendmsg";
    case Trigger::sendmmsg: return "sendmmsg";
    case Trigger::listen: return "listen";
    case Trigger::bind: return "bind";
  }
  return "?";
}

FdSlot* slot_needing_decision(int fd) {
  if (!active_shim() || inside_shim()) return nullptr;
  FdSlot* slot = fd_table().find(fd);
  if (!slot || slot->state.load(std::memory_order_acquire) != FdState::pending) return nullptr;
  return slot;
}

Placement place_pending(int fd, FdSlot& slot, const Endpoint& dst, Trigger trigger) noexcept {
  try {
    return place_pending_or_throw(fd, slot, dst, trigger);
  } catch (...) {
    // Out of memory while deciding. Whatever socket the fd names now (placeholder or placed), the program's call
    // runs on it: never let an exception cross into C.
    return Placement{};
  }
}

void report_no_stack_left(int fd, const Placement& p, int err) noexcept {
  try {
    const Shim* shim = active_shim();
    if (!shim || p.rank >= p.choice.ranked_count) return;
    warn_placement(fd, p.request, to_string(p.trigger),
                   shim->stack(p.choice.ranked[static_cast<std::size_t>(p.rank)]).name, std::strerror(err), {}, err);
  } catch (...) {
    // Out of memory while saying so: the call's own errno still tells the program.
  }
}

bool fall_back(int fd, FdSlot& slot, Placement& p, int err) noexcept {
  try {
    return fall_back_or_throw(fd, slot, p, err);
  } catch (...) {
    return false;
  }
}

}  // namespace dmm::preload
