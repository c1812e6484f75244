// Caddy behind the load-balancer seam (lb_kind.h): its truth comes from the admin API through the
// SSH connection to the LB (caddy_snapshot.h); a switch rewrites the app's reverse_proxy upstreams
// in its Caddyfile, checks the candidate with caddy validate and caddy adapt, swaps it in like
// HAProxy's and nginx's files and loads it with caddy reload (caddy_switch.h); for a Caddy that
// resumes its autosave, the same with that JSON file. With neither configured a switch is refused
// before anything is planned.
#include "common/text.h"
#include "deployment/caddy_snapshot.h"
#include "deployment/caddy_switch.h"
#include "deployment/lb_kind.h"

namespace bluegreen::deployment {
namespace {

class CaddyKind final : public LbKind {
 public:
  [[nodiscard]] config::LbType type() const override { return config::LbType::kCaddy; }
  [[nodiscard]] const char* pool_word() const override { return "upstreams"; }
  [[nodiscard]] const char* entry_points_phrase() const override { return "Caddy's servers"; }
  [[nodiscard]] const char* bind_word() const override { return ", listen "; }
  [[nodiscard]] std::string check_and_reload_hint() const override {
    return "caddy validate --config FILE` (with --adapter caddyfile for a Caddyfile), then caddy reload";
  }
  [[nodiscard]] const char* validate_word() const override { return "caddy validate"; }
  [[nodiscard]] const std::string& main_config(const config::LoadBalancerConfig& lb) const override {
    const auto* source = caddy_source_path(lb);
    return source != nullptr ? *source : lb.admin_socket;
  }
  [[nodiscard]] std::map<std::string, std::string> placeholders(const config::LoadBalancerConfig& lb) const override {
    const auto* source = caddy_source_path(lb);
    return {{"config", source != nullptr ? *source : ""}, {"adminSocket", lb.admin_socket}};
  }
  [[nodiscard]] const std::string& server_name(const config::HostConfig& server) const override {
    return server.upstream;
  }
  [[nodiscard]] const std::vector<std::string>& switch_steps() const override {
    static const std::vector<std::string> steps{"taking the lock",
                                                "re-checking the plan against the live system",
                                                "validating the new Caddy config and switching it in",
                                                "loading it into Caddy (caddy reload)",
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

  [[nodiscard]] std::string switch_refusal(const config::AppConfig& app) const override {
    return caddy_switch_refusal(app);
  }
  [[nodiscard]] bluegreen::Result<ConfigChange> plan_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                            state::Color to) const override {
    return plan_caddy_change(app, snapshot, to);
  }
  [[nodiscard]] std::string validate_command(const config::AppConfig& app, const std::vector<std::string>& /*files*/,
                                             const std::map<std::string, std::string>& candidates) const override {
    return caddy_validate_command(app, candidates);
  }
  [[nodiscard]] std::string check_candidates(Services& services, const config::AppConfig& app,
                                             const ConfigChange& change) const override {
    return check_caddy_candidate(services, app, change);
  }
  [[nodiscard]] bluegreen::Result<std::vector<std::string>> interrupted_swaps(
      Services& services, const config::AppConfig& app, const LbSnapshot& snapshot) const override {
    return caddy_interrupted_swaps(services, app, snapshot);
  }
  // `import *` in a Caddyfile would load any name beside it: the candidate and backup are dot files.
  [[nodiscard]] bool hides_backups() const override { return true; }
  [[nodiscard]] std::optional<std::vector<int>> workers_before_reload(Services& /*services*/,
                                                                      const config::AppConfig& /*app*/) const override {
    return std::nullopt;
  }
  [[nodiscard]] std::optional<std::vector<int>> workers_in(const LbSnapshot& /*snapshot*/) const override {
    return std::nullopt;
  }
  [[nodiscard]] RoutingCheck verify(Services& services, const config::AppConfig& app,
                                    const RoutingExpectation& expected, const std::stop_token& stop) const override {
    return verify_caddy_routing(services, app, expected, stop);
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
  if (const auto* source = caddy_source_path(lb)) {
    // read_caddy read it (and had Caddy adapt a Caddyfile): the switch's source of truth must be
    // exactly what runs.
    const bool agrees = !snapshot.config_files.empty() && snapshot.source_problem.empty();
    // Whether a switch could rewrite it: the plan to the other colour, made as switch_traffic makes it.
    std::string unswitchable;
    if (agrees && snapshot.selected) {
      if (auto plan = plan_caddy_change(app, snapshot, state::other(*snapshot.selected)); !plan) {
        unswitchable = "adapts to what Caddy runs, but a switch could not rewrite it: " + plan.error().message;
      }
    }
    rows.push_back({lb.caddyfile ? "caddyfile" : "autosave", *source, (agrees && unswitchable.empty()) || !admin_ok,
                    !agrees && !admin_ok,
                    !unswitchable.empty() ? unswitchable
                    : agrees              ? std::string(lb.caddyfile ? "adapts to" : "holds") +
                                   " exactly the configuration Caddy runs (a switch edits it and runs caddy reload)"
                    : !admin_ok ? "not compared: Caddy's configuration could not be read"
                                : snapshot.source_problem});
    // Whether a restart of Caddy loads that file: the command line Caddy runs with.
    const auto ran =
        run_on_lb(executor, app, "for p in $(pgrep -x caddy); do tr '\\0' ' ' < /proc/$p/cmdline; echo; done");
    const std::string lines = ran && ran->succeeded() ? ran->out.tail : "";
    const bool resumes = lines.find("--resume") != std::string::npos;
    const bool from_file = lines.find("--config " + *source) != std::string::npos;
    const bool loads_it = lb.caddyfile ? from_file && !resumes : resumes;
    rows.push_back({"caddy process", "caddy", true, !loads_it,
                    lines.empty() ? "no caddy process found by pgrep on " + lb.ssh
                    : loads_it    ? std::string("runs ") + (lb.caddyfile ? "--config " + *source : "--resume") +
                                     ": a restart loads what a switch writes"
                               : "Caddy does not run with " +
                                     (lb.caddyfile ? "--config " + *source : std::string("--resume")) +
                                     ", so after a restart it may not load what a switch writes (" +
                                     bluegreen::trim_trailing(bluegreen::tail_of(lines, 200)) + ")"});
  } else {
    rows.push_back({"caddyfile", "(not set)", true, true,
                    "switch_traffic is refused without loadBalancer.caddyfile or loadBalancer.autosave (the file "
                    "Caddy runs from)"});
  }
  return rows;
}

}  // namespace

const LbKind& caddy_kind() {
  static const CaddyKind kind;
  return kind;
}

}  // namespace bluegreen::deployment
