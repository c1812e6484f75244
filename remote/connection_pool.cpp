#include "remote/connection_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <utility>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

}  // namespace

ConnectionPool::ConnectionPool(std::string host, const SshSettings& settings, SshConfigResolver& resolver,
                               std::size_t max_connections, milliseconds idle_limit)
    : host_(std::move(host)),
      settings_(settings),
      resolver_(resolver),
      max_connections_(std::max<std::size_t>(1, max_connections)),
      idle_limit_(idle_limit) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), entry_(std::move(other.entry_)) {
  other.pool_ = nullptr;
}

ConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr && entry_) pool_->release(entry_);
}

bluegreen::Result<ConnectionPool::Lease> ConnectionPool::acquire(SshClock::time_point deadline,
                                                                 const std::stop_token& stop) {
  const auto started = SshClock::now();
  std::unique_lock lock(mutex_);
  while (true) {
    // The oldest idle connection first: it is the one most likely open already.
    for (auto& slot : slots_) {
      if (!slot.leased) {
        slot.leased = true;
        return Lease(this, slot.entry);
      }
    }
    if (slots_.size() < max_connections_) {
      auto entry = std::make_shared<PooledConnection>(host_, settings_, resolver_);
      slots_.push_back(Slot{entry, true, {}});
      if (slots_.size() > 1) {
        spdlog::debug("ssh {}: {} operations at once; opening connection {} of at most {}", host_, slots_.size(),
                      slots_.size(), max_connections_);
      }
      return Lease(this, std::move(entry));
    }
    if (stop.stop_requested()) {
      return Error{"ssh " + host_ + ": cancelled while waiting for one of its " + std::to_string(max_connections_) +
                       " connections, all busy with other operations",
                   ErrorCode::kCancelled};
    }
    if (SshClock::now() >= deadline) {
      return Error{"ssh " + host_ + ": all " + std::to_string(max_connections_) +
                       " connections were busy with other operations for " +
                       std::to_string(duration_cast<milliseconds>(SshClock::now() - started).count()) +
                       " ms, until the deadline",
                   ErrorCode::kDeadlineExceeded};
    }
    // Until a lease ends, `stop` is requested or the deadline passes; the loop tells which.
    returned_.wait_until(lock, stop, deadline, [this] {
      return std::any_of(slots_.begin(), slots_.end(), [](const Slot& slot) { return !slot.leased; });
    });
  }
}

void ConnectionPool::release(const std::shared_ptr<PooledConnection>& entry) {
  std::vector<std::shared_ptr<PooledConnection>> closing;  // closed after the mutex is released
  {
    std::lock_guard lock(mutex_);
    const auto now = SshClock::now();
    for (auto& slot : slots_) {
      if (slot.entry == entry) {
        slot.leased = false;
        slot.idle_since = now;
      }
    }
    // Connections beyond the first, idle too long, with no held channel (nothing else owns them).
    for (auto it = std::next(slots_.begin()); it < slots_.end();) {
      const bool unused = !it->leased && it->entry != entry && it->entry.use_count() == 1;
      if (unused && now - it->idle_since >= idle_limit_) {
        closing.push_back(std::move(it->entry));
        it = slots_.erase(it);
      } else {
        ++it;
      }
    }
  }
  returned_.notify_all();
  if (!closing.empty()) spdlog::debug("ssh {}: closing {} idle connection(s)", host_, closing.size());
}

std::size_t ConnectionPool::size() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

std::size_t ConnectionPool::leased() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.leased; }));
}

}  // namespace bluegreen::remote
