#include "deployment/time_source.h"

#include <condition_variable>
#include <mutex>

namespace bluegreen::deployment {
namespace {

class SystemTime final : public TimeSource {
 public:
  TimePoint now() override { return std::chrono::steady_clock::now(); }

  bool sleep_for(std::chrono::milliseconds duration, std::stop_token stop) override {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    // wait_for with a stop token returns the predicate's value: true only when stopped.
    return !wake.wait_for(lock, stop, duration, [&stop] { return stop.stop_requested(); });
  }
};

}  // namespace

TimeSource& system_time() {
  static SystemTime instance;
  return instance;
}

}  // namespace bluegreen::deployment
