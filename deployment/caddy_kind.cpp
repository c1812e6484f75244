// Caddy behind the load-balancer seam (lb_kind.h), read-only in this version: its truth comes
// from the admin API through the SSH connection to the LB (caddy_snapshot.h); status, deploys to
// the standby and check-config work. A switch is refused before anything is planned or staged:
// Caddy changes through its admin API (PATCH with If-Match, then persisting to the Caddyfile or
// the autosave), not through the file swap HAProxy and nginx share, and that switch is not built.
#include "common/text.h"
#include "deployment/caddy_snapshot.h"
#include "deployment/lb_kind.h"
#include "remote/shell_command.h"

namespace bluegreen::deployment {
namespace {

constexpr const char* kNoSwitch =
    "switching is not supported for Caddy yet: this version reads Caddy's routing and upstreams (status, deploys to "
    "the standby, check-config) but does not change them. Nothing was changed. To switch by hand, PATCH the "
    "reverse_proxy's upstreams through Caddy's admin API (or edit the Caddyfile and run caddy reload), then call "
    "get_deployment_status: the state file is rewritten from Caddy's routing by the next deploy";

class CaddyKind final : public LbKind {
 public:
  [[nodiscard]] config::LbType type() const override { return config::LbType::kCaddy; }
  [[nodiscard]] const char* pool_word() const override { return "upstreams"; }
  [[nodiscard]] const char* entry_points_phrase() const override { return "Caddy's servers"; }
  [[nodiscard]] const char* bind_word() const override { return ", listen "; }
  [[nodiscard]] std::string check_and_reload_hint() const override {
    return "caddy validate`, caddy reload (or PATCH through the admin API)";
  }
  [[nodiscard]] const char* validate_word() const override { return "caddy validate"; }
  [[nodiscard]] const std::string& main_config(const config::LoadBalancerConfig& lb) const override {
    return lb.caddyfile ? *lb.caddyfile : lb.admin_socket;
  }
  [[nodiscard]] std::map<std::string, std::string> placeholders(const config::LoadBalancerConfig& lb) const override {
    return {{"config", lb.caddyfile.value_or("")}, {"adminSocket", lb.admin_socket}};
  }
  [[nodiscard]] const std::string& server_name(const config::HostConfig& server) const override {
    return server.upstream;
  }
  [[nodiscard]] const std::vector<std::string>& switch_steps() const override {
    static const std::vector<std::string> steps{"taking the lock",
                                                "re-checking the plan against the live system",
                                                "changing Caddy's upstreams",
                                                "persisting Caddy's configuration",
                                                "verifying Caddy routes to",
                                                "recording switch"};
    return steps;
  }

  [[nodiscard]] bool files_read_with_state() const override { return false; }
  void read_truth(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot) const override {
    read_caddy(executor, app, snapshot);
  }
  void interpret_routing(const config::AppConfig& /*app*/, LbSnapshot& /*snapshot*/) const override {
    // No files: read_truth interprets the running config it reads.
  }
  [[nodiscard]] bool counts_reloads() const override { return false; }
  [[nodiscard]] bool compares_pools() const override { return false; }
  [[nodiscard]] std::string not_running_problem(const config::AppConfig& /*app*/,
                                                const LbSnapshot& /*snapshot*/) const override {
    return "";  // a Caddy that does not answer leaves no colour selected (read_caddy says why)
  }
  [[nodiscard]] std::string not_loaded_text(const config::AppConfig& /*app*/, const LbSnapshot& /*snapshot*/,
                                            std::int64_t /*started*/) const override {
    return "";  // the admin API returns the configuration Caddy runs: nothing on disk to disagree with it
  }
  [[nodiscard]] std::vector<LbCheckRow> prerequisite_rows(remote::Executor& executor, const config::AppConfig& app,
                                                          const LbSnapshot& snapshot) const override;

  [[nodiscard]] std::string switch_refusal() const override { return kNoSwitch; }
  [[nodiscard]] bluegreen::Result<ConfigChange> plan_change(const config::AppConfig& /*app*/,
                                                            const LbSnapshot& /*snapshot*/,
                                                            state::Color /*to*/) const override {
    return bluegreen::Error{kNoSwitch};
  }
  [[nodiscard]] std::string validate_command(const config::AppConfig& /*app*/,
                                             const std::vector<std::string>& /*files*/,
                                             const std::map<std::string, std::string>& /*candidates*/) const override {
    return "false";  // never reached: plan_change refuses first
  }
  [[nodiscard]] bool hides_backups() const override { return true; }
  [[nodiscard]] std::optional<std::vector<int>> workers_before_reload(Services& /*services*/,
                                                                      const config::AppConfig& /*app*/) const override {
    return std::nullopt;
  }
  [[nodiscard]] std::optional<std::vector<int>> workers_in(const LbSnapshot& /*snapshot*/) const override {
    return std::nullopt;
  }
  [[nodiscard]] RoutingCheck verify(Services& /*services*/, const config::AppConfig& /*app*/,
                                    const RoutingExpectation& /*expected*/,
                                    const std::stop_token& /*stop*/) const override {
    return {false, false, kNoSwitch};
  }
};

// The caddy binary (`caddy version`) and the Caddyfile (when configured) in one command on the LB;
// the admin socket from the snapshot just read (its GET /config/ succeeded or says why not).
std::vector<LbCheckRow> CaddyKind::prerequisite_rows(remote::Executor& executor, const config::AppConfig& app,
                                                     const LbSnapshot& snapshot) const {
  const auto& lb = app.load_balancer;
  std::vector<LbCheckRow> rows;
  const auto version = run_on_lb(executor, app, "caddy version 2>&1 | head -n 1");
  const bool has_binary = version && version->succeeded() && !version->out.tail.empty();
  rows.push_back({"caddy binary", "caddy", has_binary, false,
                  has_binary ? "caddy " + bluegreen::trim_trailing(version->out.tail)
                             : "`caddy version` failed on " + lb.ssh + ": " + command_output(version)});
  const bool admin_ok = snapshot.routes.has_value();
  rows.push_back({"admin socket", lb.admin_socket, admin_ok, false,
                  admin_ok ? "GET /config/ answered (" + std::to_string(snapshot.routes->routes.size()) +
                                 " reverse_proxy handler(s) of the app)"
                           : snapshot.live_problem});
  if (lb.caddyfile) {
    const auto present = run_on_lb(executor, app, "test -f " + remote::shell_quote(*lb.caddyfile));
    const bool found = present && present->succeeded();
    rows.push_back({"caddyfile", *lb.caddyfile, found, false,
                    found ? "present (the source of truth a switch will persist to)"
                          : (present ? "no such file on " + lb.ssh : command_output(present))});
  }
  return rows;
}

}  // namespace

const LbKind& caddy_kind() {
  static const CaddyKind kind;
  return kind;
}

}  // namespace bluegreen::deployment
