#pragma once
// What a switch tells the assistant: one function per kind of ending, each giving the text (in the
// seed's vocabulary: "TRAFFIC SWITCH COMPLETE ... Switch #6") and the same facts as JSON.
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "deployment/approvals.h"
#include "deployment/sessions.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct SwitchOutcome {
  bool switched = false;      // traffic now goes to plan.to and the state records it
  bool rolled_back = false;   // traffic was moved and then restored
  std::string text;           // for the assistant
  nlohmann::json structured;  // the same facts: {switched, rolledBack, app, from, to, ...}
};

// Nothing changed: refused before the live config was touched. `why` says what to do.
// `routes_to`: the colour HAProxy is known to route to (the plan's `from` unless the refusal found
// otherwise); nullopt when the refusal is that it is not known (then no colour is claimed).
SwitchOutcome switch_refused(const std::string& why, const SwitchPlan& plan, std::optional<state::Color> routes_to);

// How putting the previous config back went, after a failure once the live config was replaced.
struct RollbackReport {
  bool restored = false;  // the backed-up config is back in place
  bool reloaded = false;  // and HAProxy was told to reload it
  bool verified = false;  // and HAProxy was seen routing to the previous colour again
  std::string text;       // what happened, for the user
  // The state file was replaced but could not be confirmed (StateStore::commit's
  // kUnknownOutcome): it may already record the switch.
  bool state_uncertain = false;
  std::vector<std::string> config_files;  // the files the switch changed (empty: haproxyConfig's first)
};

// The switch failed after the swap (`failure`); `rollback` says how far the way back got, and
// the text says in capitals when the user must act, with the exact commands.
SwitchOutcome switch_rolled_back(const config::AppConfig& app, const SwitchPlan& plan, const std::string& failure,
                                 const RollbackReport& rollback);

struct CompletedSwitch {
  std::int64_t switch_number = 0;
  std::string completed_at;  // UTC, ISO 8601 (state::utc_timestamp)
  long long total_ms = 0;
  std::string verified;  // what the verification saw
  // Milliseconds: lockMs (start to lock taken), checksMs (start to state prepared),
  // validateAndSwapMs (candidate check started to swap done), reloadAndVerifyMs, totalMs.
  nlohmann::json timings;
  // The old PROD's open sessions right after the switch (deployment/sessions.h), and
  // hard-stop-after, when set.
  ColourSessions old_sessions;
  std::string hard_stop_after;
};

// Traffic moved, was verified and recorded: the new roles, switch number, timings and what the
// verification saw.
SwitchOutcome switch_completed(const config::AppConfig& app, const SwitchPlan& plan, const CompletedSwitch& done);

}  // namespace bluegreen::deployment
