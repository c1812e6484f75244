#pragma once
// FakeTime: a deployment::TimeSource for unit tests whose clock only moves when told to.
//
// Simulates: steady_clock and waiting. sleep_for() advances the virtual clock by the whole
// duration at once and returns true, or returns false at once (without advancing) when `stop`
// was already requested, like the real source woken by its stop token. So health-gate intervals,
// reload polling and frontend settling run in microseconds while their deadlines and streak rules
// behave as in production.
//
// on_sleep(): an optional hook called after each sleep with the new virtual time (e.g. to request
// a stop, or to change what a fake host answers, "5 s into the gate").
//
// Thread-safety: all methods may be called from several threads at once (the switch's standby
// gate sleeps on its own thread while the main thread polls). All sleepers share one clock, as
// they share steady_clock in production; with several sleepers the clock advances by the sum of
// their sleeps, which only makes deadlines arrive sooner, never later.

#include "deployment/time_source.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <stop_token>
#include <utility>

namespace testing_support {
using namespace bluegreen;  // NOLINT(google-build-using-namespace): test support

class FakeTime final : public deployment::TimeSource {
 public:
  using SleepHook = std::function<void(TimePoint now)>;

  // The virtual clock starts at an arbitrary, non-zero point (like steady_clock after boot).
  FakeTime() = default;

  TimePoint now() override {
    std::lock_guard lock(mutex_);
    return now_;
  }

  bool sleep_for(std::chrono::milliseconds duration, std::stop_token stop) override {
    if (stop.stop_requested()) return false;
    SleepHook hook;
    TimePoint after;
    {
      std::lock_guard lock(mutex_);
      now_ += duration;
      slept_ += duration;
      ++sleeps_;
      after = now_;
      hook = hook_;
    }
    if (hook) hook(after);  // outside the lock: the hook may call now() or advance()
    return true;
  }

  // Moves the clock forward without a sleep (time passing elsewhere).
  void advance(std::chrono::milliseconds duration) {
    std::lock_guard lock(mutex_);
    now_ += duration;
  }

  void on_sleep(SleepHook hook) {
    std::lock_guard lock(mutex_);
    hook_ = std::move(hook);
  }

  // How many sleeps returned true, and their total duration.
  [[nodiscard]] std::size_t sleeps() const {
    std::lock_guard lock(mutex_);
    return sleeps_;
  }
  [[nodiscard]] std::chrono::milliseconds slept() const {
    std::lock_guard lock(mutex_);
    return slept_;
  }

 private:
  mutable std::mutex mutex_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(1000);
  std::chrono::milliseconds slept_{0};
  std::size_t sleeps_ = 0;
  SleepHook hook_;
};

}  // namespace testing_support
