#pragma once
// errno -> dmm::Error, keeping the errno value (the shim maps an Error straight back to errno).
#include <cerrno>
#include <cstring>
#include <string>

#include "dmm/result.hpp"

namespace dmm::kernel {

// `what: strerror(code)`, with `code` as the error's errno.
inline Error sys_error(int code, const std::string& what) {
  return make_error(code, what + ": " + std::strerror(code));
}

// The same for the current errno; call it right after the failing system call.
inline Error last_sys_error(const std::string& what) { return sys_error(errno, what); }

}  // namespace dmm::kernel
