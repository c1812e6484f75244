#pragma once
// Where the deployment layer gets the time and waits: the health gate's probe intervals, polling
// HAProxy's master socket after a reload, settling the frontend probe, step timings. Tests
// substitute a fake (tests/support/fake_time.h) whose sleeps advance a virtual clock at once, so
// timeouts and streak rules are tested in microseconds (as Envoy's TimeSource does).
//
// Thread-safety: implementations must be callable from several threads at once.

#include <chrono>
#include <stop_token>

namespace bluegreen::deployment {

class TimeSource {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~TimeSource() = default;

  // A monotonic time point (steady_clock's epoch for the real source).
  [[nodiscard]] virtual TimePoint now() = 0;

  // Waits `duration` (ms), or less when `stop` is requested. Returns false when it returned
  // because of `stop`, true when the whole duration passed.
  virtual bool sleep_for(std::chrono::milliseconds duration, std::stop_token stop) = 0;

  // Whole milliseconds from `start` to now().
  [[nodiscard]] long long ms_since(TimePoint start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now() - start).count();
  }
};

// The process-wide real time source (steady_clock; sleeps wake early on `stop`).
TimeSource& system_time();

}  // namespace bluegreen::deployment
