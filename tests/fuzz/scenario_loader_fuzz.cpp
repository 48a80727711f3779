// libFuzzer target for the scenario loader (DESIGN.md §2.3: never a crash or a hang on bad input).
// Whatever the bytes, load_text must return, and an error must read `<file>:LINE:COL: what is wrong`.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "scenario/scenario.hpp"

namespace {

constexpr const char* kFile = "fuzz.yaml";

bool digits(const std::string& s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i > start;
}

// `^fuzz.yaml:\d+:\d+: .` without <regex> (slow, and itself recursive).
bool well_formed(const std::string& message) {
  const std::string prefix = std::string(kFile) + ":";
  if (message.compare(0, prefix.size(), prefix) != 0) return false;
  std::size_t i = prefix.size();
  if (!digits(message, i) || i >= message.size() || message[i++] != ':') return false;
  if (!digits(message, i)) return false;
  return message.compare(i, 2, ": ") == 0 && message.size() > i + 2;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // registry null: plug-ins are never dlopen()ed from fuzz input.
  const auto result = dmm::scenario::load_text(text, kFile, {});
  if (!result.ok()) {
    const auto& error = result.error();
    if (error.code != EINVAL || !well_formed(error.message)) {
      std::fprintf(stderr, "malformed error (code %d): %s\n", error.code, error.message.c_str());
      std::abort();
    }
  }
  return 0;
}
