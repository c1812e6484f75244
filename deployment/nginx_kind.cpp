// nginx behind the load-balancer seam (lb_kind.h): its truth comes from `nginx -T` and /proc
// (nginx_snapshot.h), a switch rewrites its proxy_pass lines (nginx_switch.h), validated with
// `nginx -t` over bind-mounted candidates (lb_scripts.h), and a reload counts once new workers
// replaced every old one.
#include "deployment/lb_kind.h"
#include "deployment/lb_scripts.h"
#include "deployment/live_confirmation.h"
#include "deployment/nginx_snapshot.h"
#include "deployment/nginx_switch.h"

namespace bluegreen::deployment {
namespace {

class NginxKind final : public LbKind {
 public:
  [[nodiscard]] config::LbType type() const override { return config::LbType::kNginx; }
  [[nodiscard]] const char* pool_word() const override { return "upstream"; }
  [[nodiscard]] const char* entry_points_phrase() const override { return "nginx's server blocks"; }
  [[nodiscard]] const char* bind_word() const override { return ", listen "; }
  [[nodiscard]] std::string check_and_reload_hint() const override { return "nginx -t`, reload nginx"; }
  [[nodiscard]] const char* validate_word() const override { return "nginx -t"; }
  [[nodiscard]] const std::string& main_config(const config::LoadBalancerConfig& lb) const override {
    return lb.nginx_config;
  }
  [[nodiscard]] std::map<std::string, std::string> placeholders(const config::LoadBalancerConfig& lb) const override {
    return {{"config", lb.nginx_config}, {"pidFile", lb.pid_file}};
  }
  [[nodiscard]] const std::vector<std::string>& switch_steps() const override {
    static const std::vector<std::string> steps{"taking the lock",
                                                "re-checking the plan against the live system",
                                                "validating the new nginx config and switching it in",
                                                "reloading nginx",
                                                "verifying nginx routes to",
                                                "recording switch"};
    return steps;
  }

  [[nodiscard]] bool files_read_with_state() const override { return false; }
  void read_truth(remote::Executor& executor, const config::AppConfig& app, LbSnapshot& snapshot) const override {
    read_nginx(executor, app, snapshot);
  }
  void interpret_routing(const config::AppConfig& app, LbSnapshot& snapshot) const override {
    interpret_nginx_routing(app, snapshot);
  }
  [[nodiscard]] bool counts_reloads() const override { return false; }
  [[nodiscard]] bool compares_pools() const override { return false; }  // upstream servers: not compared yet
  [[nodiscard]] std::string not_running_problem(const config::AppConfig& app,
                                                const LbSnapshot& snapshot) const override {
    if (snapshot.processes) return "";
    return "nginx is not running as loadBalancer.pidFile says (" + snapshot.processes_problem +
           "), so whatever its files select serves no one. No colour is called live, and deploys and switches are "
           "refused until it runs: start it on " +
           app.load_balancer.ssh + " (nginx -c " + app.load_balancer.nginx_config +
           "), or point pidFile at where it writes its pid, then check get_deployment_status";
  }
  [[nodiscard]] std::string not_loaded_text(const config::AppConfig& app, const LbSnapshot& snapshot,
                                            std::int64_t started) const override {
    return nginx_not_loaded_text(app, snapshot, started);
  }
  [[nodiscard]] std::vector<LbCheckRow> prerequisite_rows(remote::Executor& /*executor*/, const config::AppConfig& app,
                                                          const LbSnapshot& snapshot) const override {
    return {{"nginx master", app.load_balancer.pid_file, snapshot.processes.has_value(), false,
             snapshot.processes ? "master pid " + std::to_string(snapshot.processes->master_pid) + ", " +
                                      std::to_string(snapshot.processes->current_worker_pids.size()) + " worker(s)"
                                : snapshot.processes_problem}};
  }

  [[nodiscard]] bluegreen::Result<ConfigChange> plan_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                            state::Color to) const override {
    return plan_nginx_change(app, snapshot, to);
  }
  [[nodiscard]] std::string validate_command(const config::AppConfig& app, const std::vector<std::string>& /*files*/,
                                             const std::map<std::string, std::string>& candidates) const override {
    return nginx_validate_command(app, candidates);
  }
  [[nodiscard]] bool hides_backups() const override { return true; }  // `include sites-enabled/*` loads any name
  [[nodiscard]] std::optional<std::vector<int>> workers_before_reload(Services& services,
                                                                      const config::AppConfig& app) const override {
    return nginx_current_workers(services, app);
  }
  [[nodiscard]] std::optional<std::vector<int>> workers_in(const LbSnapshot& snapshot) const override {
    if (!snapshot.processes) return std::nullopt;
    return snapshot.processes->current_worker_pids;
  }
  [[nodiscard]] RoutingCheck verify(Services& services, const config::AppConfig& app,
                                    const RoutingExpectation& expected, const std::stop_token& stop) const override {
    return verify_nginx_routing(services, app, expected, stop);
  }
};

}  // namespace

const LbKind& nginx_kind() {
  static const NginxKind kind;
  return kind;
}

}  // namespace bluegreen::deployment
