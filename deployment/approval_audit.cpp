#include "deployment/approval_audit.h"

#include "common/text.h"
#include "deployment/lb_set.h"

namespace bluegreen::deployment {

std::string audit_approval_refusal(Services& services, const config::AppConfig& app, const ApprovalRefusal& refusal) {
  nlohmann::json details{{"stage", "approval"},
                         {"reason", refusal.reason},
                         {"message", bluegreen::utf8_prefix(refusal.message, 300)}};
  if (!refusal.client_version.empty()) details["clientVersion"] = refusal.client_version;
  if (!refusal.channel.empty()) details["channel"] = refusal.channel;
  LbSet lbs(services.executor, app);
  return lbs.audit(
      {refusal.emergency ? "emergency-switch" : "switch", refusal.client, refusal.outcome, std::move(details)});
}

}  // namespace bluegreen::deployment
