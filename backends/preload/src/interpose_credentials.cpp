// setuid & co.: a process that changes its credentials after its first decision (haproxy and squid bind as root,
// then drop privileges in the same process) must not go on with sockets and a dmm-stackd connection made for the
// old ones — sockets owned by root, admitted by root's `allow:`. After a successful change the shim flushes its
// parked sockets and connects to dmm-stackd anew (Shim::credentials_changed). Everything else passes through.
#include <grp.h>
#include <unistd.h>

#include <cerrno>

#include "export.hpp"
#include "real_calls.hpp"
#include "shim_guard.hpp"
#include "shim_state.hpp"

using namespace dmm::preload;

namespace {

int after_change(int result) {
  if (result != 0 || inside_shim()) return result;
  if (Shim* shim = active_shim()) {
    const int saved_errno = errno;
    shim->credentials_changed();
    errno = saved_errno;
  }
  return result;
}

}  // namespace

DMM_INTERPOSE int setuid(uid_t uid) __THROW { return after_change(real().setuid(uid)); }
DMM_INTERPOSE int seteuid(uid_t uid) __THROW { return after_change(real().seteuid(uid)); }
DMM_INTERPOSE int setreuid(uid_t ruid, uid_t euid) __THROW { return after_change(real().setreuid(ruid, euid)); }
DMM_INTERPOSE int setresuid(uid_t ruid, uid_t euid, uid_t suid) __THROW {
  return after_change(real().setresuid(ruid, euid, suid));
}
DMM_INTERPOSE int setgid(gid_t gid) __THROW { return after_change(real().setgid(gid)); }
DMM_INTERPOSE int setegid(gid_t gid) __THROW { return after_change(real().setegid(gid)); }
DMM_INTERPOSE int setregid(gid_t rgid, gid_t egid) __THROW { return after_change(real().setregid(rgid, egid)); }
DMM_INTERPOSE int setresgid(gid_t rgid, gid_t egid, gid_t sgid) __THROW {
  return after_change(real().setresgid(rgid, egid, sgid));
}
DMM_INTERPOSE int setgroups(size_t size, const gid_t* list) __THROW { return after_change(real().setgroups(size, list)); }
