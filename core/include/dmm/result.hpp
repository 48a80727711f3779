#pragma once
// Result<T>: the core's way to report *expected* failures (a peer refused, a policy was stale, a unit was wrong).
// errno-shaped like Demikernel's Fail, so the preload shim can map an Error straight to errno.
// Exceptions are reserved for bugs and parsing boundaries (see DESIGN.md §3).
#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace dmm {

struct Error {
  int code = EINVAL;      // an errno value
  std::string message;    // what went wrong, for people
};

inline Error make_error(int code, std::string message) { return Error{code, std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace dmm
