// sessions.csv's `attempts` column: which stacks nSocket considered for a session and why each one was or was
// not the one (see Attempt in nsocket.hpp). Tokens, not messages: a column people filter and count by.
#include <cctype>
#include <cmath>
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

namespace {

// `250ms`, `262.5ms`, `1000ms`: milliseconds to a tenth, the resolution a reader of a race wants.
std::string format_start(Duration since_open) {
  const auto tenths = static_cast<long long>(std::llround(to_millis(since_open) * 10.0));
  std::string text = std::to_string(tenths / 10);
  if (tenths % 10 != 0) text += "." + std::to_string(tenths % 10);
  return text + "ms";
}

}  // namespace

std::string format_attempts(const std::vector<Attempt>& trail) {
  std::string out;
  for (const Attempt& a : trail) {
    if (!out.empty()) out += ';';
    out += a.stack;
    out += ':';
    out += a.outcome;
    // The first attempt starts as the session opens; a later one says when it started.
    if (a.started && std::llround(to_millis(*a.started) * 10.0) > 0) out += "@" + format_start(*a.started);
  }
  return out;
}

AttemptCounts count_attempts(const std::vector<Attempt>& trail) {
  AttemptCounts counts;
  for (const Attempt& a : trail) {
    if (!a.started || a.outcome == "absent") continue;
    ++counts.started;
    if (a.outcome == "lost") ++counts.lost;
    if (a.outcome == "ok" && counts.started > 1) counts.won_by_later_rank = true;
  }
  return counts;
}

}  // namespace dmm
