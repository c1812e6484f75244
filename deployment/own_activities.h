#pragma once
// The deploys and switches this server is running now, by app and start time (their activity
// records' `since`, activity_record.h). Status uses it to know without asking the LB that a
// record of its own server's operation belongs to a running operation; records of other servers
// are checked on the LB (`flock -n`).
//
// Thread-safety: all methods may be called from several threads.

#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace bluegreen::deployment {

class OwnActivities {
 public:
  void add(const std::string& app, const std::string& since) {
    std::lock_guard lock(mutex_);
    running_.emplace(app, since);
  }
  void remove(const std::string& app, const std::string& since) {
    std::lock_guard lock(mutex_);
    running_.erase({app, since});
  }
  [[nodiscard]] bool contains(const std::string& app, const std::string& since) const {
    std::lock_guard lock(mutex_);
    return running_.count({app, since}) != 0;
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::pair<std::string, std::string>> running_;
};

// Registers one operation for as long as it lives.
class OwnActivityGuard {
 public:
  OwnActivityGuard(OwnActivities& registry, std::string app, std::string since)
      : registry_(registry), app_(std::move(app)), since_(std::move(since)) {
    registry_.add(app_, since_);
  }
  ~OwnActivityGuard() { registry_.remove(app_, since_); }
  OwnActivityGuard(const OwnActivityGuard&) = delete;
  OwnActivityGuard& operator=(const OwnActivityGuard&) = delete;

 private:
  OwnActivities& registry_;
  std::string app_;
  std::string since_;
};

}  // namespace bluegreen::deployment
