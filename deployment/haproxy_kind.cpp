// HAProxy behind the load-balancer seam (lb_kind.h): the files it loads are read with the state
// file (haproxy_files.h, app_routing.h), switched by rewriting them (config_change.h), validated
// with `haproxy -c`, and a reload is confirmed on the master socket (routing_check.h).
#include "deployment/app_routing.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_scripts.h"
#include "deployment/live_confirmation.h"

namespace bluegreen::deployment {
namespace {

class HaproxyKind final : public LbKind {
 public:
  [[nodiscard]] config::LbType type() const override { return config::LbType::kHaproxy; }
  [[nodiscard]] const char* pool_word() const override { return "backend"; }
  [[nodiscard]] const char* entry_points_phrase() const override { return "HAProxy's entry points"; }
  [[nodiscard]] const char* bind_word() const override { return ", bind "; }
  [[nodiscard]] std::string check_and_reload_hint() const override { return "haproxy -c`, reload HAProxy"; }
  [[nodiscard]] const char* validate_word() const override { return "haproxy -c"; }
  [[nodiscard]] const std::string& main_config(const config::LoadBalancerConfig& lb) const override {
    return lb.haproxy_config;
  }
  [[nodiscard]] std::map<std::string, std::string> placeholders(const config::LoadBalancerConfig& lb) const override {
    std::map<std::string, std::string> values{{"config", lb.haproxy_config}};
    if (lb.master_socket) values["masterSocket"] = *lb.master_socket;
    if (lb.stats_socket) values["statsSocket"] = *lb.stats_socket;
    return values;
  }
  [[nodiscard]] const std::vector<std::string>& switch_steps() const override {
    static const std::vector<std::string> steps{"taking the lock",
                                                "re-checking the plan against the live system",
                                                "validating the new HAProxy config and switching it in",
                                                "reloading HAProxy",
                                                "verifying HAProxy routes to",
                                                "recording switch"};
    return steps;
  }

  [[nodiscard]] bool files_read_with_state() const override { return true; }
  void read_truth(remote::Executor& /*executor*/, const config::AppConfig& /*app*/,
                  LbSnapshot& /*snapshot*/) const override {}  // all read with the state file
  void interpret_routing(const config::AppConfig& app, LbSnapshot& snapshot) const override {
    deployment::interpret_routing(app, snapshot);
  }
  [[nodiscard]] bool counts_reloads() const override { return true; }
  [[nodiscard]] bool compares_pools() const override { return true; }
  [[nodiscard]] bool counts_sessions() const override { return true; }
  [[nodiscard]] std::string not_running_problem(const config::AppConfig& /*app*/,
                                                const LbSnapshot& /*snapshot*/) const override {
    return "";  // a stopped HAProxy shows in its sockets and the frontend probes
  }
  [[nodiscard]] std::string not_loaded_text(const config::AppConfig& app, const LbSnapshot& snapshot,
                                            std::int64_t started) const override {
    return haproxy_not_loaded_text(app, snapshot, started);
  }
  [[nodiscard]] std::vector<LbCheckRow> prerequisite_rows(remote::Executor& /*executor*/,
                                                          const config::AppConfig& /*app*/,
                                                          const LbSnapshot& /*snapshot*/) const override {
    return {};  // its sockets have rows of their own (check_config.cpp)
  }

  [[nodiscard]] bluegreen::Result<ConfigChange> plan_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                            state::Color to) const override {
    return plan_haproxy_change(app, snapshot, to);
  }
  [[nodiscard]] std::string validate_command(const config::AppConfig& app, const std::vector<std::string>& files,
                                             const std::map<std::string, std::string>& candidates) const override {
    return haproxy_validate_command(app, files, candidates);
  }
  [[nodiscard]] bool hides_backups() const override { return false; }
  [[nodiscard]] std::optional<std::vector<int>> workers_before_reload(Services& /*services*/,
                                                                      const config::AppConfig& /*app*/) const override {
    return std::nullopt;  // the master's reload counter tells a reload instead
  }
  [[nodiscard]] std::optional<std::vector<int>> workers_in(const LbSnapshot& /*snapshot*/) const override {
    return std::nullopt;
  }
  [[nodiscard]] RoutingCheck verify(Services& services, const config::AppConfig& app,
                                    const RoutingExpectation& expected, const std::stop_token& stop) const override {
    return verify_haproxy_routing(services, app, expected, stop);
  }
};

}  // namespace

const LbKind& haproxy_kind() {
  static const HaproxyKind kind;
  return kind;
}

}  // namespace bluegreen::deployment
