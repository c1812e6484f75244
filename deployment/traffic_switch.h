#pragma once
// switch_traffic's substance: planning a cutover of HAProxy to the standby colour, and carrying
// out an approved plan safely.
//
// execute() holds the app's lock throughout and re-checks the plan against the live system
// first. Its order makes failures harmless: the candidate config is validated with `haproxy -c`
// and the new state file is written beside the old one before anything live changes; the live
// config is replaced atomically (backup kept), HAProxy reloaded, and the new routing verified.
// A failed verification or state commit restores the previous config and reloads again. Every
// outcome says exactly where things stand.
//
// Thread-safety: reentrant; concurrent executions for one app are serialised by the lock.

#include "config/config.h"
#include "deployment/approvals.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"
#include "deployment/status.h"

#include <nlohmann/json.hpp>

#include <stop_token>
#include <string>

namespace deployment {

struct PlanView {
  SwitchPlan plan;
  std::string line_now;
  std::string line_after;
  std::size_t line_number = 0;
  remote::HealthReport standby_health;
  std::optional<std::string> standby_commit;
  std::int64_t next_switch_number = 1;
};

// Computes the plan from the live system. Errors: live colour unknown, corrupt state file, or
// (unless `emergency`) an unhealthy standby.
bluegreen::Result<PlanView> plan_switch(Services& services, const config::AppConfig& app, bool emergency);

std::string approval_request_text(const config::AppConfig& app, const PlanView& view, const std::string& token,
                                  std::chrono::milliseconds ttl);
nlohmann::json plan_json(const config::AppConfig& app, const PlanView& view);

struct SwitchOutcome {
  bool switched = false;      // traffic now goes to plan.to and the state records it
  bool rolled_back = false;   // traffic was moved and then restored
  std::string text;           // for the assistant
  nlohmann::json structured;  // the same facts
};

SwitchOutcome execute_switch(Services& services, const config::AppConfig& app, const SwitchPlan& plan,
                             const std::string& client, Reporter& reporter, std::stop_token stop);

}  // namespace deployment
