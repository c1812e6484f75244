#pragma once
// The audit log's record of a switch that never got an approval: refused before any plan was
// approved (a forged or replayed token, a token where the configuration takes none, no way to
// approve in this client, requireApproval=false) or not approved by the human (declined, or the
// form failed with no token to fall back on). Switches that got an approval are recorded by
// execute_switch (traffic_switch.h).
//
// Thread-safety: as LbSet (one call per refusal; the LBs' appends run in parallel).

#include "config/config.h"
#include "deployment/services.h"

#include <string>

namespace bluegreen::deployment {

struct ApprovalRefusal {
  bool emergency = false;      // action "emergency-switch" instead of "switch"
  std::string client;          // clientInfo.name
  std::string client_version;  // clientInfo.version ("" when none)
  std::string outcome;         // "refused" or "not-approved"
  std::string reason;          // a short code: "token-not-accepted", "token-refused", "no-approval-channel",
                               // "require-approval-false", "declined", "form-failed",
                               // "page-failed", "page-expired", "panel-refused"
  std::string message;         // what the client was told (the first 300 bytes are kept)
  std::string channel{};       // where the answer came from when it is one ("app" for the panel); "" if none
};

// Appends `refusal` to the audit log of every load balancer of `app`, as
// {action, client, outcome, stage: "approval", reason, message, clientVersion?}. Returns "" or
// why some LB could not record it (the refusal stands either way).
std::string audit_approval_refusal(Services& services, const config::AppConfig& app, const ApprovalRefusal& refusal);

}  // namespace bluegreen::deployment
