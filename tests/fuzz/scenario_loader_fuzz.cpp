// libFuzzer target for the scenario loader (DESIGN.md §2.3: never a crash or a hang on bad input).
// Whatever the bytes, load_text must return, and an error must read `<file>:LINE:COL: what is wrong`
// (or `--set KEY: what is wrong` for an override).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

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

// Leading `%set KEY=VALUE` lines become `--set` overrides, so the fuzzer reaches the override code too.
// (`%` starts a YAML directive, so no ordinary scenario begins this way.)
std::string take_overrides(std::string text, std::vector<std::string>& overrides) {
  constexpr std::string_view kTag = "%set ";
  while (text.compare(0, kTag.size(), kTag) == 0 && overrides.size() < 8) {
    const std::size_t end = text.find('\n');
    overrides.push_back(text.substr(kTag.size(), end == std::string::npos ? std::string::npos : end - kTag.size()));
    text.erase(0, end == std::string::npos ? text.size() : end + 1);
  }
  return text;
}

bool well_formed_override_error(const std::string& message, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    const std::string prefix = "--set " + o.substr(0, o.find('=')) + ": ";
    if (message.compare(0, prefix.size(), prefix) == 0 && message.size() > prefix.size()) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dmm::scenario::LoadOptions options;  // registry null: plug-ins are never dlopen()ed from fuzz input
  const std::string text = take_overrides(std::string(reinterpret_cast<const char*>(data), size), options.overrides);
  const auto result = dmm::scenario::load_text(text, kFile, options);
  if (!result.ok()) {
    const auto& error = result.error();
    const bool located = well_formed(error.message) || well_formed_override_error(error.message, options.overrides);
    if (error.code != EINVAL || !located) {
      std::fprintf(stderr, "malformed error (code %d): %s\n", error.code, error.message.c_str());
      std::abort();
    }
  }
  return 0;
}
