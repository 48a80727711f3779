#include "dmm/service/sockets_as_peer.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace dmm::service {
namespace {

// Raw system calls: they act on the calling thread only, which is the point (glibc's wrappers do too, but say so
// less plainly). Both return the previous id whatever happens; -1 (not an id) changes nothing, so it reads the
// current one: the only way to tell whether a change took.
uid_t set_fsuid(uid_t uid) { return static_cast<uid_t>(::syscall(SYS_setfsuid, uid)); }
gid_t set_fsgid(gid_t gid) { return static_cast<gid_t>(::syscall(SYS_setfsgid, gid)); }
uid_t current_fsuid() { return set_fsuid(static_cast<uid_t>(-1)); }
gid_t current_fsgid() { return set_fsgid(static_cast<gid_t>(-1)); }

// The thread's file-system ids for one scope.
class FsIdentity {
public:
  FsIdentity(uid_t uid, gid_t gid) : old_gid_(set_fsgid(gid)), old_uid_(set_fsuid(uid)) {
    ok_ = current_fsuid() == uid && current_fsgid() == gid;
  }
  ~FsIdentity() {
    set_fsuid(old_uid_);
    set_fsgid(old_gid_);
    // Going back to our own ids cannot be refused. If it ever were, every later peer's sockets would carry this
    // peer's ids: stopping is the only safe answer.
    if (current_fsuid() != old_uid_ || current_fsgid() != old_gid_) {
      std::fprintf(stderr, "dmm-stackd: cannot restore the file-system uid/gid after making a peer's sockets; "
                           "aborting rather than making sockets as the wrong user\n");
      std::abort();
    }
  }
  FsIdentity(const FsIdentity&) = delete;
  FsIdentity& operator=(const FsIdentity&) = delete;
  bool ok() const { return ok_; }

private:
  gid_t old_gid_;
  uid_t old_uid_;
  bool ok_ = false;
};

}  // namespace

Result<std::vector<kernel::UniqueFd>> make_sockets_as(const kernel::InstanceSockets& instance, uid_t uid, gid_t gid,
                                                      int domain, int type, int protocol, int count) {
  std::vector<kernel::UniqueFd> made;
  made.reserve(static_cast<std::size_t>(count));
  const FsIdentity as_peer(uid, gid);
  if (!as_peer.ok())
    return make_error(EPERM, "cannot make sockets as uid " + std::to_string(uid) + " gid " + std::to_string(gid) +
                                 " (setfsuid/setfsgid refused: dmm-stackd needs CAP_SETUID and CAP_SETGID)");
  for (int i = 0; i < count; ++i) {
    auto s = instance.socket(domain, type | SOCK_CLOEXEC, protocol);
    if (!s) return s.error();  // those made so far close with `made`
    made.push_back(std::move(*s));
  }
  return made;
}

}  // namespace dmm::service
