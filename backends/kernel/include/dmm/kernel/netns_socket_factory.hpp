#pragma once
// Creates sockets inside a named network namespace. A socket belongs to the namespace its creator was in when
// it was made and keeps it for life, so creating it is the only step that needs the namespace: bind, connect,
// listen, accept and the data path then work from any thread of any namespace.
//
// How: setns(CLONE_NEWNET) moves only the *calling thread*. socket() switches the calling thread into the target
// namespace, makes the socket, and switches it back to the home namespace, so concurrent callers on different
// threads never see each other's switch, and no lock or helper thread is needed (a hand-off to a dedicated
// thread would cost a wake-up per socket; two setns calls cost a few microseconds).
//
// Preconditions: callers' threads are in the home namespace (the namespace of the thread that opened the
// factory, normally the whole process's). Nothing else may run on the calling thread between the two switches,
// so socket() must not be called from a signal handler that can interrupt another socket() on the same thread.
// Needs CAP_SYS_ADMIN (EPERM otherwise).
#include <string>
#include <vector>

#include "dmm/kernel/unique_fd.hpp"
#include "dmm/result.hpp"

namespace dmm::kernel {

class NetnsSocketFactory {
public:
  // Opens /run/netns/NAME (kept open, so the namespace lives as long as the factory even if it is deleted)
  // and the calling thread's own namespace, both kept at high fd numbers (just under 1024 or the fd limit), out
  // of the way of programs that use small numbers they did not open themselves. ENOENT if there is no such namespace, EINVAL if the file is not a
  // network namespace.
  static Result<NetnsSocketFactory> open(const std::string& name);
  // The same for any namespace file (/proc/PID/ns/net, a bind mount elsewhere); `label` names it in messages.
  static Result<NetnsSocketFactory> open_path(const std::string& path, const std::string& label);

  NetnsSocketFactory(NetnsSocketFactory&&) noexcept = default;
  NetnsSocketFactory& operator=(NetnsSocketFactory&&) noexcept = default;

  // socket(2) inside the namespace; the type may carry SOCK_NONBLOCK / SOCK_CLOEXEC. Thread-safe.
  Result<UniqueFd> socket(int domain, int type, int protocol) const;
  // `count` sockets for one pair of namespace switches (a pool made in advance). Fails only if the first one
  // cannot be made; later failures (the fd limit) end the batch early.
  Result<std::vector<UniqueFd>> sockets(int domain, int type, int protocol, int count) const;

  const std::string& name() const { return name_; }
  int netns_fd() const { return target_.get(); }
  // The namespace the factory was opened from, which socket() returns the calling thread to.
  int home_fd() const { return home_.get(); }
  // The target is the home namespace itself: socket() needs no switch.
  bool is_home() const { return target_is_home_; }

private:
  NetnsSocketFactory(UniqueFd target, UniqueFd home, std::string name, bool target_is_home);
  class Inside;
  void return_home() const;  // aborts if it cannot: a thread left in the wrong namespace is worse

  UniqueFd target_;
  UniqueFd home_;
  std::string name_;
  bool target_is_home_ = false;
};

// The lowest fd number for fds a library keeps open for a program's whole life without the program knowing
// (namespace files, a user-space session's control end): just under 1024, or under a lower fd limit. Small numbers
// are the ones programs take for granted (`dup2(pipe, 3)` in a launcher, `exec 3<file` in a shell); this stays
// below FD_SETSIZE and far above what programs commonly use. `reserve`: how far below the ceiling to start.
int high_fd_floor(int reserve = 64);

// The failure is setns refusing to enter the namespace (EPERM: the caller lacks CAP_SYS_ADMIN), not socket(2)
// failing inside it.
bool refused_entering(const Error& error);

// socket(2) as a raw system call. Why not ::socket: the preload shim interposes `socket` in the same process,
// and a call from inside the shim's own library would bind to the interposer and recurse.
Result<UniqueFd> raw_socket(int domain, int type, int protocol);

}  // namespace dmm::kernel
