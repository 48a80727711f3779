#pragma once
// Typed, bounded reads of a parsed JSON value that arrived from another process or a person (a policy, a sync
// message). Each read returns a checked value or throws json::Problem with `PATH: what is wrong`; `read_guarded`
// is the boundary that turns it into an Error, so no exception crosses into callers.
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "dmm/result.hpp"

namespace dmm::json {

using Value = nlohmann::json;

struct Problem {
  std::string what;
};

[[noreturn]] void fail(const std::string& path, const std::string& what);
std::string type_name(const Value& v);  // "a string", "a list", ... for messages

// An object whose keys are checked against what the schema allows.
class ObjectReader {
public:
  ObjectReader(const Value& value, std::string path);  // fails unless `value` is an object
  // Fails at the first key not in `allowed`, naming it and the allowed ones.
  void only(std::initializer_list<std::string_view> allowed) const;
  const Value* get(const char* key) const;
  const Value& require(const char* key) const;  // fails naming the missing key
  std::string path_of(const char* key) const;   // `PATH.key`

private:
  const Value& value_;
  std::string path_;
};

std::string read_text(const Value& v, const std::string& path, std::size_t max_bytes);
std::uint64_t read_uint(const Value& v, const std::string& path, std::uint64_t max);
double read_number(const Value& v, const std::string& path, double min, double max);  // finite, in range
bool read_bool(const Value& v, const std::string& path);
// A list of non-empty strings (stack names), at most `max_items`, each at most `max_bytes`.
std::vector<std::string> read_names(const Value& v, const std::string& path, std::size_t max_items,
                                    std::size_t max_bytes);

// Runs `read` (which returns a T or throws Problem); EINVAL with the problem, ENOMEM, or EINVAL for a library
// exception otherwise. `what` prefixes messages that carry no path of their own.
template <typename T, typename Read>
Result<T> read_guarded(std::string_view what, Read&& read) {
  try {
    return read();
  } catch (const Problem& p) {
    return make_error(EINVAL, p.what);
  } catch (const std::bad_alloc&) {
    return make_error(ENOMEM, "out of memory while reading " + std::string(what));
  } catch (const std::exception& e) {
    return make_error(EINVAL, std::string(what) + ": " + e.what());
  }
}

// Parses `text` as one JSON value; EINVAL naming the byte offset of a syntax error.
Result<Value> parse(std::string_view text, std::string_view what);

}  // namespace dmm::json
