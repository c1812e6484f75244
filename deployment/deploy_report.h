#pragma once
// What a deploy tells the assistant: the step table, the verdict and what to do next, as text
// and as the same facts in JSON.
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "state/deployment_state.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct DeployOutcome {
  bool ok = false;
  bool cancelled = false;
  std::string text;
  // {ok, app, target{server,ip}, prod, ref, commit, version, outcome, steps[], servers[], durationMs, ...}
  nlohmann::json structured;
};

// One row of the step table.
struct StepRow {
  std::string name;
  std::string status;  // ok, failed, skipped, cancelled, timed out, not run
  std::optional<int> exit_code;
  long long duration_ms = 0;
  std::string detail;  // output tail or reason (shown for rows that are neither ok nor "not run")
};

// One standby server's part of a deploy: its step table (the configured steps, then its health
// gate) and what it ended with.
struct ServerDeploy {
  const config::HostConfig* server = nullptr;  // into the app's configuration
  std::vector<StepRow> rows;
  std::optional<std::string> commit;   // deployed commit (git HEAD), when read after the steps
  std::optional<std::string> version;  // what its health endpoint reported last
  // "ok", "failed", "cancelled", "stopped" (another server failed, so it started no further step)
  // or "not started" (the deploy stopped before its turn: another server failed, or a cancel).
  std::string status = "not started";
  std::string failure;  // why it failed, when it did
  long long duration_ms = 0;
};

// Everything the report of a deploy that started needs.
struct DeployFacts {
  state::Color target = state::Color::kBlue;
  state::Color live = state::Color::kGreen;
  std::string ref;
  std::optional<std::string> commit;   // the deployed commit, when every server that finished has the same
  std::optional<std::string> version;  // the version their health endpoints report, when the same
  std::vector<ServerDeploy> servers;   // every standby server, in configuration order
  bool failed = false;
  bool cancelled = false;
  std::string failure;         // why it failed, when it did (the first server's failure, for pools)
  std::string record_problem;  // why the state file could not record it, when it could not
  std::string audit_problem;   // why the audit log could not record it, when it could not
  std::string warning;         // what the user should know (e.g. sessions the deploy cut off)
  long long duration_ms = 0;
};

// "failed", "cancelled" or "ok": the word the state file and audit log record.
std::string deploy_outcome_name(const DeployFacts& facts);

// Nothing ran: `why` says what to do.
DeployOutcome deploy_refused(const std::string& why, const std::string& app);

// A deploy that ran (or was cancelled/failed partway): ok only when every step and the gate
// passed and the state file recorded it (an audit-log failure is shown but does not make the
// standby unready).
DeployOutcome deploy_report(const config::AppConfig& app, const DeployFacts& facts);

}  // namespace bluegreen::deployment
