#include "deployment/frontend_check.h"

#include "remote/shell_command.h"

#include <chrono>

namespace bluegreen::deployment {

FrontendView frontend_view(std::string url, remote::HealthReport report) {
  FrontendView view{std::move(url), std::move(report), std::nullopt};
  if (view.report.healthy() && view.report.color) view.color = state::parse_color(*view.report.color);
  return view;
}

std::optional<FrontendView> probe_frontend(Services& services, const config::AppConfig& app) {
  const auto& url = app.load_balancer.verify_url;
  if (!url) return std::nullopt;
  return frontend_view(*url, services.probe(*url, app.health_gate.request_timeout));
}

std::optional<FrontendView> settle_frontend(Services& services, const config::AppConfig& app,
                                            const LbSnapshot& snapshot, std::optional<FrontendView> first) {
  for (int attempt = 0; attempt < 10 && !frontend_mismatch(app, snapshot, first).empty(); ++attempt) {
    (void)services.time.sleep_for(std::chrono::milliseconds(50), {});
    first = probe_frontend(services, app);
  }
  return first;
}

std::string frontend_mismatch(const config::AppConfig& app, const LbSnapshot& snapshot,
                              const std::optional<FrontendView>& frontend) {
  if (!frontend || !frontend->color || !snapshot.live || *frontend->color == *snapshot.live) return "";
  const auto& lb = app.load_balancer;
  const std::string file_colour = state::to_upper_string(*snapshot.live);
  const std::string serving = state::to_upper_string(*frontend->color);
  const std::string reload = lb_reload_command(app);
  return "HAProxy is not running its config file: " + lb.haproxy_config + " selects " + file_colour +
         ", but requests through " + frontend->url + " are answered by " + serving +
         " (a reload failed or never happened, for example because the load balancer became unreachable "
         "during a switch). Users are on " +
         serving +
         ". Deploys and switches are refused until this is "
         "resolved. To keep " +
         serving + ": on " + lb.ssh + ", cp -p " + lb.haproxy_config + ".bluegreen-backup " + lb.haproxy_config +
         " if that backup selects " + serving + ", or edit the line back by hand. To apply the file (" + file_colour +
         "): reload HAProxy (" + reload + "). Then check get_deployment_status.";
}

}  // namespace bluegreen::deployment
