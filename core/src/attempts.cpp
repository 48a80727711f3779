// sessions.csv's `attempts` column: which stacks nSocket considered for a session and why each one was or was
// not the one (see Attempt in nsocket.hpp). Tokens, not messages: a column people filter and count by.
#include <cctype>
#include <cstring>

#include "dmm/nsocket.hpp"

namespace dmm {

std::string attempt_outcome(const Error& error) {
  switch (error.code) {
    case ECONNREFUSED: return "refused";
    case ENETUNREACH:
    case EHOSTUNREACH: return "unreachable";
    case ETIMEDOUT: return "timeout";
    case ECONNRESET: return "reset";
    default: break;
  }
  // glibc names every errno it knows; an unknown code still gets a stable token.
  const char* name = strerrorname_np(error.code);
  if (!name) return "errno-" + std::to_string(error.code);
  std::string token(name);
  for (char& c : token) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return token;
}

std::string format_attempts(const std::vector<Attempt>& trail) {
  std::string out;
  for (const Attempt& a : trail) {
    if (!out.empty()) out += ';';
    out += a.stack;
    out += ':';
    out += a.outcome;
  }
  return out;
}

}  // namespace dmm
