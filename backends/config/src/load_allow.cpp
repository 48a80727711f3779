// A kernel stack's `allow:` — who may get its sockets through dmm-stackd. Users and groups are written as names or
// numbers; names become numbers here, through the account database, because the kernel speaks only numbers
// (SO_PEERCRED, SO_PEERGROUPS) and an unknown name must fail at its own line when the config is loaded, not as a
// puzzling EACCES when some program asks.
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "host_sections.hpp"

namespace dmm::host::detail {
namespace {

using scenario::read_text;

// The largest id a config may name: (uid_t)-1 is "no id" to the kernel (setfsuid(-1) and chown(-1) mean "leave
// it"), so it can never be a peer's.
constexpr std::uint64_t kMaxId = 0xfffffffeu;
// getpwnam_r's buffer grows on ERANGE up to this; an entry larger than 1 MiB is not an account.
constexpr std::size_t kMaxEntryBuffer = 1u << 20;

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What a user or group name may be here: printable, no spaces or ':' (the account files' separator), bounded.
bool plausible_name(const std::string& s) {
  return !s.empty() && s.size() <= 255 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c != ':' && c != 0x7f; });
}

// Looks `name` up with getpwnam_r / getgrnam_r (`lookup`), growing the buffer on ERANGE. nullopt when there is no
// such entry; the lookup's errno (e.g. EIO from an unreachable directory service) is reported at the field.
template <typename Entry, typename Lookup>
std::optional<std::uint32_t> find_id(const Field& f, const std::string& name, const char* what, Lookup lookup) {
  std::vector<char> buffer(1024);
  for (;;) {
    Entry entry{};
    Entry* found = nullptr;
    const int rc = lookup(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < kMaxEntryBuffer) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    // getpwnam_r reports "no such entry" as 0 with a null result, or (some NSS modules) ENOENT/ESRCH/EBADF/EPERM.
    if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) {
      if (!found) return std::nullopt;
      if constexpr (std::is_same_v<Entry, passwd>) return static_cast<std::uint32_t>(found->pw_uid);
      else return static_cast<std::uint32_t>(found->gr_gid);
    }
    f.fail(std::string("cannot look up ") + what + " '" + name + "': " + std::strerror(rc));
  }
}

// One entry of `users:` or `groups:`: a number (taken as it is, like chown's) or a name that must exist. nullopt:
// a well-formed name not looked up (`resolve_accounts` off).
std::optional<std::uint32_t> read_id(const Field& f, bool user, bool resolve_accounts) {
  const char* what = user ? "user" : "group";
  if (!f->is_scalar())
    f.fail(std::string("expected a ") + what + " name or number, got " + scenario::yaml::describe(*f));
  const std::string text = read_text(f);
  if (all_digits(text)) return static_cast<std::uint32_t>(scenario::read_uint(f, 0, kMaxId));
  if (text.size() > 1 && text[0] == '-' && all_digits(text.substr(1)))
    f.fail(std::string("a negative number is not a ") + what + " id");
  if (!plausible_name(text))
    f.fail(std::string("'") + text + "' is not a " + what + " name or number");
  if (!resolve_accounts) return std::nullopt;
  const std::optional<std::uint32_t> id =
      user ? find_id<passwd>(f, text, what, ::getpwnam_r) : find_id<group>(f, text, what, ::getgrnam_r);
  if (!id)
    f.fail(std::string("unknown ") + what + " '" + text + "': no such " + what + " on this host (give a name from " +
           (user ? "/etc/passwd" : "/etc/group") + " or a number)");
  return *id;
}

template <typename Id>
std::vector<Id> read_ids(const Field& list, bool user, bool resolve_accounts) {
  std::vector<Id> ids;
  for (const Field& item : list.items()) {
    const std::optional<std::uint32_t> read = read_id(item, user, resolve_accounts);
    if (!read) continue;
    const auto id = static_cast<Id>(*read);
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

}  // namespace

AllowSpec read_allow(const Field& f, bool resolve_accounts) {
  const MapReader m(f, "an allow section ({users: [NAME or UID, ...], groups: [NAME or GID, ...]})");
  m.allow({"users", "groups"});
  AllowSpec allow;
  allow.written = true;
  allow.mark = mark_of(f);
  if (auto users = m.get("users")) allow.users = read_ids<uid_t>(*users, true, resolve_accounts);
  if (auto groups = m.get("groups")) allow.groups = read_ids<gid_t>(*groups, false, resolve_accounts);
  return allow;
}

}  // namespace dmm::host::detail
