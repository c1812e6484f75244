#pragma once
// Result<T>: the one way expected failures travel through the code base.
//
// An operation that can fail for reasons outside the program's control (bad input, a remote host
// that does not answer, a file that cannot be read) returns Result<T> instead of throwing. The
// Error carries a message written for the person who has to act on it. Exceptions are reserved
// for bugs and are caught once, at the protocol dispatch boundary.
//
// Thread-safety: plain value types; no shared state.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace bluegreen {

// What the caller should do next, in the spirit of abseil's status codes (absl/status/status.h):
// callers branch on the code, never on the message text.
enum class ErrorCode {
  kFailed,              // the operation failed; the message says why (no more specific code applies)
  kInvalidArgument,     // the input is wrong whatever the system's state: fix the input, do not retry
  kFailedPrecondition,  // the system is not in a state that allows it: fix that first, then retry
  kUnavailable,         // a host or service could not be reached: retrying later may work
  kDeadlineExceeded,    // the deadline passed before the operation finished; its effect may be unknown
  kUnknownOutcome,      // it may or may not have taken effect: look at the system before acting
  kCancelled,           // the caller asked to stop
  kBusy,                // someone else holds what is needed (a lock): wait for them, then retry
  kInternal,            // a broken invariant of this program: report it as a bug
};

// The code's name in lower case with spaces ("deadline exceeded"), for logs and structured output.
const char* to_string(ErrorCode code);

struct Error {
  explicit Error(std::string message_text, ErrorCode error_code = ErrorCode::kFailed,
                 std::optional<int> status = std::nullopt)
      : message(std::move(message_text)), code(error_code), exit_status(status) {}

  std::string message;  // written for the person who has to act on it
  ErrorCode code = ErrorCode::kFailed;
  // The remote command's exit status, when a command that ended early caused the error
  // (Executor::hold); callers that gave the command a meaningful exit status branch on it.
  std::optional<int> exit_status;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : value_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

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

inline const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kFailed: return "failed";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kFailedPrecondition: return "failed precondition";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kDeadlineExceeded: return "deadline exceeded";
    case ErrorCode::kUnknownOutcome: return "unknown outcome";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kInternal: return "internal";
  }
  return "failed";
}

}  // namespace bluegreen
