#pragma once
// What the deployment operations need from the outside world, bundled so tests can substitute
// any part (a scripted executor, a scripted health probe, a fake time source; see tests/support).
//
// Thread-safety: the referenced objects must be thread-safe (SshExecutor, ApprovalBook and
// system_time() are).

#include "config/config.h"
#include "deployment/approvals.h"
#include "deployment/change_time_cache.h"
#include "deployment/deployed_commit.h"
#include "deployment/health_gate.h"
#include "deployment/own_activities.h"
#include "deployment/time_source.h"
#include "remote/executor.h"
#include "state/state_store.h"

#include <functional>
#include <memory>
#include <string>

namespace bluegreen::deployment {

// Reports progress of long operations (wired to MCP notifications/progress and logging).
class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual void step(double done, double total, const std::string& message) = 0;
  virtual void note(const std::string& message) = 0;  // log line for the client
};

struct Services {
  remote::Executor& executor;
  ApprovalBook& approvals;
  Probe probe = remote::probe_health;
  // Time and waiting (health-gate intervals, reload polling, frontend settling); tests use a fake.
  TimeSource& time = system_time();
  // Commit details by hash, shared by every copy of these services (see deployed_commit.h).
  std::shared_ptr<CommitCache> commits = std::make_shared<CommitCache>();
  // HAProxy configs' status-change times, so status need not ask the LB each time (see
  // change_time_cache.h); shared by every copy of these services.
  std::shared_ptr<ChangeTimeCache> change_times = std::make_shared<ChangeTimeCache>();
  // The deploys and switches these services run now (see own_activities.h).
  std::shared_ptr<OwnActivities> own_activities = std::make_shared<OwnActivities>();
};

inline state::StateStore store_for(remote::Executor& executor, const config::AppConfig& app) {
  const auto& lb = app.load_balancer;
  return state::StateStore(executor, state::StoreLocation{app.name, lb.ssh, lb.state_file, lb.lock_file, lb.audit_log,
                                                          lb.command_timeout});
}

}  // namespace bluegreen::deployment
