#include "dmm/json_reader.hpp"

#include <cmath>

namespace dmm::json {

void fail(const std::string& path, const std::string& what) { throw Problem{path + ": " + what}; }

std::string type_name(const Value& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  return "an object";
}

ObjectReader::ObjectReader(const Value& value, std::string path) : value_(value), path_(std::move(path)) {
  if (!value_.is_object()) fail(path_, "expected an object, got " + type_name(value_));
}

void ObjectReader::only(std::initializer_list<std::string_view> allowed) const {
  for (const auto& [key, unused] : value_.items()) {
    bool known = false;
    for (auto a : allowed) known = known || key == a;
    if (known) continue;
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    fail(path_, "unknown key '" + key + "' (keys: " + list + ")");
  }
}

const Value* ObjectReader::get(const char* key) const {
  const auto it = value_.find(key);
  return it == value_.end() ? nullptr : &*it;
}

const Value& ObjectReader::require(const char* key) const {
  const Value* v = get(key);
  if (!v) fail(path_, std::string("missing key '") + key + "'");
  return *v;
}

std::string ObjectReader::path_of(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

std::string read_text(const Value& v, const std::string& path, std::size_t max_bytes) {
  if (!v.is_string()) fail(path, "expected a string, got " + type_name(v));
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > max_bytes) fail(path, "longer than " + std::to_string(max_bytes) + " bytes");
  return s;
}

std::uint64_t read_uint(const Value& v, const std::string& path, std::uint64_t max) {
  // Parsed text gives unsigned numbers; a value built in code from an int is signed: both count if not negative.
  const bool whole = v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
  if (!whole) fail(path, "expected a whole number from 0 to " + std::to_string(max) + ", got " +
                             (v.is_number() ? v.dump() : type_name(v)));
  const auto n = v.get<std::uint64_t>();
  if (n > max) fail(path, std::to_string(n) + " is above the limit " + std::to_string(max));
  return n;
}

double read_number(const Value& v, const std::string& path, double min, double max) {
  if (!v.is_number()) fail(path, "expected a number, got " + type_name(v));
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < min || d > max)
    fail(path, "expected a number from " + Value(min).dump() + " to " + Value(max).dump() + ", got " + v.dump());
  return d;
}

bool read_bool(const Value& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, "expected true or false, got " + type_name(v));
  return v.get<bool>();
}

std::vector<std::string> read_names(const Value& v, const std::string& path, std::size_t max_items,
                                    std::size_t max_bytes) {
  if (!v.is_array()) fail(path, "expected a list of names, got " + type_name(v));
  if (v.size() > max_items) fail(path, "more than " + std::to_string(max_items) + " names");
  std::vector<std::string> names;
  names.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    std::string name = read_text(v[i], at, max_bytes);
    if (name.empty()) fail(at, "empty name");
    names.push_back(std::move(name));
  }
  return names;
}

Result<Value> parse(std::string_view text, std::string_view what) {
  try {
    return Value::parse(text.begin(), text.end());
  } catch (const Value::parse_error& e) {
    return make_error(EINVAL, std::string(what) + " is not JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const std::bad_alloc&) {
    return make_error(ENOMEM, "out of memory while parsing " + std::string(what));
  } catch (const std::exception& e) {
    return make_error(EINVAL, std::string(what) + " is not JSON: " + e.what());
  }
}

}  // namespace dmm::json
