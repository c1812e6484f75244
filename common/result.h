#pragma once
// Result<T>: the one way expected failures travel through the code base.
//
// An operation that can fail for reasons outside the program's control (bad input, a remote host
// that does not answer, a file that cannot be read) returns Result<T> instead of throwing. The
// Error carries a message written for the person who has to act on it. Exceptions are reserved
// for bugs and are caught once, at the protocol dispatch boundary.
//
// Thread-safety: plain value types; no shared state.

#include <string>
#include <utility>
#include <variant>

namespace bluegreen {

struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : value_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return std::holds_alternative<T>(value_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const Error& error() const { return std::get<Error>(value_); }

 private:
  std::variant<T, Error> value_;
};

// Result of an operation that produces nothing but may fail.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

}  // namespace bluegreen
