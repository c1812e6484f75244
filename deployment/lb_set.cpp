#include "deployment/lb_set.h"

#include "deployment/lb_pair.h"
#include "deployment/services.h"

#include <algorithm>
#include <future>

namespace bluegreen::deployment {

LbSet::LbSet(remote::Executor& executor, const config::AppConfig& app)
    : executor_(executor), views_(lb_views(app)), locks_(views_.size()), snapshots_(views_.size()) {
  for (const auto& view : views_) stores_.push_back(store_for(executor, view));
}

std::string LbSet::where(std::size_t i) const { return pair() ? "on " + ssh(i) + ": " : std::string(); }

bluegreen::Status LbSet::lock(const std::string& client, const std::string& action, std::chrono::milliseconds wait,
                              const std::stop_token& stop) {
  std::vector<config::LoadBalancerConfig> load_balancers;
  for (const auto& view : views_) load_balancers.push_back(view.load_balancer);
  for (const auto i : lock_order(load_balancers)) {
    auto taken = stores_[i].lock(client, action, wait, stop);
    if (!taken) {
      for (auto& held : locks_) held.reset();
      return bluegreen::Error{where(i) + taken.error().message, taken.error().code};
    }
    locks_[i] = std::move(taken.value());
  }
  return bluegreen::ok_status();
}

void LbSet::read_snapshots(const SnapshotOptions& options) {
  if (views_.size() == 1) {
    snapshots_[0] = read_lb_snapshot(executor_, views_[0], stores_[0], options);
    return;
  }
  std::vector<std::future<LbSnapshot>> reads;
  for (std::size_t i = 0; i < views_.size(); ++i) {
    reads.push_back(std::async(std::launch::async, [this, i, options] {
      return read_lb_snapshot(executor_, views_[i], stores_[i], options);
    }));
  }
  for (std::size_t i = 0; i < reads.size(); ++i) snapshots_[i] = reads[i].get();
}

std::vector<const LbSnapshot*> LbSet::snapshots() const {
  std::vector<const LbSnapshot*> all;
  for (const auto& snapshot : snapshots_) all.push_back(&snapshot);
  return all;
}

std::uint64_t LbSet::generation() const {
  std::uint64_t highest = 0;
  for (const auto& snapshot : snapshots_) highest = std::max(highest, snapshot.generation());
  return highest;
}

std::uint64_t LbSet::generation_sum() const {
  std::uint64_t sum = 0;
  for (const auto& snapshot : snapshots_) sum += snapshot.generation();
  return sum;
}

std::optional<state::DeploymentState> LbSet::newest_state() const {
  const auto* newest = deployment::newest_state(snapshots());
  if (newest == nullptr) return std::nullopt;
  return newest->state;
}

std::vector<bluegreen::Result<remote::CommandResult>> LbSet::run_on_all(
    const std::function<std::string(const config::AppConfig&)>& script) {
  std::vector<bluegreen::Result<remote::CommandResult>> results;
  if (views_.size() == 1) {
    results.push_back(run_on_lb(executor_, views_[0], script(views_[0])));
    return results;
  }
  std::vector<std::future<bluegreen::Result<remote::CommandResult>>> runs;
  for (const auto& view : views_) {
    runs.push_back(std::async(std::launch::async,
                              [this, &view, text = script(view)] { return run_on_lb(executor_, view, text); }));
  }
  for (auto& run : runs) results.push_back(run.get());
  return results;
}

std::string LbSet::write_state(const state::DeploymentState& next) {
  std::vector<std::future<bluegreen::Status>> writes;
  for (std::size_t i = 0; i < views_.size(); ++i) {
    writes.push_back(std::async(std::launch::async, [this, i, &next] {
      return stores_[i].write(*locks_[i], next, snapshots_[i].generation());
    }));
  }
  std::string problems;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (auto written = writes[i].get(); !written) {
      problems += (problems.empty() ? "" : "; ") + where(i) + written.error().message;
    }
  }
  return problems;
}

std::string LbSet::audit(const state::AuditRecord& record) {
  std::vector<std::future<bluegreen::Status>> appends;
  for (std::size_t i = 0; i < views_.size(); ++i) {
    appends.push_back(std::async(std::launch::async, [this, i, &record] { return stores_[i].audit(record); }));
  }
  std::string problems;
  for (std::size_t i = 0; i < appends.size(); ++i) {
    if (auto appended = appends[i].get(); !appended) {
      problems += (problems.empty() ? "" : "; ") + where(i) + appended.error().message;
    }
  }
  return problems;
}

}  // namespace bluegreen::deployment
