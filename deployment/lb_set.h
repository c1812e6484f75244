#pragma once
// Every load balancer of an app, as one deploy or switch uses them (deployment/lb_pair.h): a view
// of the app per load balancer, its state store, its lock and its snapshot. Locks are taken in
// lock_order and held together; reads, scripts, state writes and audit lines go to every load
// balancer in parallel. With one load balancer this is exactly today's single store and lock.
//
// Thread-safety: one operation's thread uses an LbSet; its parallel calls join before returning.

#include "config/config.h"
#include "deployment/lb_snapshot.h"
#include "remote/executor.h"
#include "state/state_store.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// Runs `work(i)` (for a load balancer index i) for i in [0, n) at once (one thread each, or on this thread when n == 1)
// and returns the results in order.
template <typename Work>
auto for_each_lb(std::size_t n, Work work) -> std::vector<decltype(work(std::size_t{0}))> {
  std::vector<decltype(work(std::size_t{0}))> results;
  if (n == 1) {
    results.push_back(work(0));
    return results;
  }
  std::vector<std::future<decltype(work(std::size_t{0}))>> runs;
  for (std::size_t i = 0; i < n; ++i) runs.push_back(std::async(std::launch::async, work, i));
  for (auto& run : runs) results.push_back(run.get());
  return results;
}

class LbSet {
 public:
  // Views and stores of every load balancer of `app` (which must outlive this object).
  LbSet(remote::Executor& executor, const config::AppConfig& app);
  LbSet(const LbSet&) = delete;
  LbSet& operator=(const LbSet&) = delete;

  [[nodiscard]] std::size_t size() const { return views_.size(); }
  [[nodiscard]] bool pair() const { return views_.size() > 1; }
  // The app as load balancer `i` sees it (its load_balancer is that one), in configuration order.
  [[nodiscard]] const config::AppConfig& view(std::size_t i) const { return views_.at(i); }
  [[nodiscard]] const std::string& ssh(std::size_t i) const { return views_.at(i).load_balancer.ssh; }
  [[nodiscard]] const state::StateStore& store(std::size_t i) const { return stores_.at(i); }
  // "" for one load balancer, "on lab-lb2: " for a pair: a prefix for messages about LB `i`.
  [[nodiscard]] std::string where(std::size_t i) const;

  // Takes every lock, in lock_order, each waiting up to `wait`. On a failure the locks already
  // taken are released and the error (prefixed with the load balancer for a pair) returned.
  bluegreen::Status lock(const std::string& client, const std::string& action, std::chrono::milliseconds wait,
                         const std::stop_token& stop);
  [[nodiscard]] const state::AppLock& held(std::size_t i) const { return *locks_.at(i); }

  // Reads every snapshot at once (read_lb_snapshot with `options`).
  void read_snapshots(const SnapshotOptions& options);
  [[nodiscard]] LbSnapshot& snapshot(std::size_t i) { return snapshots_.at(i); }
  [[nodiscard]] const LbSnapshot& snapshot(std::size_t i) const { return snapshots_.at(i); }
  [[nodiscard]] std::vector<const LbSnapshot*> snapshots() const;
  // The highest state generation among the snapshots (0 when none has a state file).
  [[nodiscard]] std::uint64_t generation() const;
  // The sum of the snapshots' generations: what a plan is bound to (any state write on any load
  // balancer raises it; for one load balancer it is its generation).
  [[nodiscard]] std::uint64_t generation_sum() const;
  // The state the next write builds on: the newest snapshot's (lb_pair.h), or nullopt.
  [[nodiscard]] std::optional<state::DeploymentState> newest_state() const;

  // Runs `script(view(i))` on every load balancer at once; results in configuration order.
  std::vector<bluegreen::Result<remote::CommandResult>> run_on_all(
      const std::function<std::string(const config::AppConfig&)>& script);

  // Writes `next` to every load balancer (each replacing its own snapshot's generation). Returns
  // "" or why (each failing load balancer named for a pair).
  std::string write_state(const state::DeploymentState& next);
  // Appends `record` to every load balancer's audit log. Returns "" or why.
  std::string audit(const state::AuditRecord& record);

 private:
  remote::Executor& executor_;
  std::vector<config::AppConfig> views_;
  std::vector<state::StateStore> stores_;
  std::vector<std::unique_ptr<state::AppLock>> locks_;
  std::vector<LbSnapshot> snapshots_;
};

}  // namespace bluegreen::deployment
