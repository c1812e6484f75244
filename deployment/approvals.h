#pragma once
// Single-use, expiring approval tokens for traffic switches.
//
// switch_traffic's first call computes a plan and issues a token bound to it (app, from, to,
// state generation, emergency). The second call must present that token: it is consumed on
// first use whatever happens next, refused when expired, unknown (forged, or issued by another
// server process), or presented for another app. The caller then re-checks that the plan still
// holds against the live system before acting.
//
// Thread-safety: all methods may be called concurrently; two calls redeeming the same token
// race safely (exactly one gets the plan).

#include "common/result.h"
#include "state/deployment_state.h"

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct SwitchPlan {
  std::string app;
  state::Color from = state::Color::kBlue;
  state::Color to = state::Color::kGreen;
  // The state file generation the plan was made against (0: no file); for a load-balancer pair the
  // sum of every one's (deployment/lb_set.h), so a write on any of them voids the approval.
  std::uint64_t generation = 0;
  bool emergency = false;
  // The interrupted switch the plan rolls back first (its activity record's `since`,
  // activity_record.h); empty when the plan saw none. A switch only rolls back the one its plan
  // showed the human.
  std::string recovers;
  // The configuration lines the human saw change, on every load balancer (config_change.h
  // bound_lines): the switch refuses when the lines it would change are not these.
  std::vector<std::string> lines{};
  // Who approved it and how, for the audit log (not part of what the approval binds): the channel
  // ("elicitation", "token", or "not-required" when the configuration turns approval off) and the
  // client's version (clientInfo.version; the name is the switch's `client`). Set by the caller
  // after the approval, empty before.
  std::string approved_via{};
  std::string client_version{};
};

class ApprovalBook {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit ApprovalBook(Clock clock = [] { return std::chrono::steady_clock::now(); });

  // How a plan's handle travels: kToken, "approve-" and 32 hex digits (128 random bits), goes back
  // through the model, which passes it in switch_traffic's approvalToken; kPanel, "panel-" and 32
  // hex digits, goes to the deployment panel (MCP Apps) in the result's _meta, whose buttons pass it
  // to the app-only tool answer_switch_plan. A handle is redeemed only as the kind it was issued.
  enum class Handle { kToken, kPanel };

  // A new handle of kind `handle` for `plan`, valid for `ttl`. Thread-safe.
  std::string issue(const SwitchPlan& plan, std::chrono::milliseconds ttl, Handle handle = Handle::kToken);

  // Consumes `token` (of kind `handle`) and returns its plan. Errors, each worded for that kind:
  // already used (consumed once, whether it was then approved or rejected), unknown (forged, of the
  // other kind, or issued before a restart), expired, issued for another app. Thread-safe.
  bluegreen::Result<SwitchPlan> redeem(const std::string& token, const std::string& app,
                                       Handle handle = Handle::kToken);

 private:
  struct Entry {
    SwitchPlan plan;
    std::chrono::steady_clock::time_point expires;
  };
  void forget_expired(std::chrono::steady_clock::time_point now);  // requires mutex_

  Clock clock_;
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::chrono::steady_clock::time_point> spent_;  // consumed tokens, for clear messages
};

}  // namespace bluegreen::deployment
