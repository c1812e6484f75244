#include "deployment/frontend_check.h"

#include "remote/shell_command.h"

#include <chrono>

namespace bluegreen::deployment {

std::optional<state::Color> identify_colour(const remote::HealthReport& frontend, const remote::HealthReport& blue,
                                            const remote::HealthReport& green, std::string* by) {
  const auto told = [by](std::optional<state::Color> color, const char* how) {
    if (color && by != nullptr) *by = how;
    return color;
  };
  if (!frontend.healthy()) return std::nullopt;
  if (const auto named = frontend.color ? state::parse_color(*frontend.color) : std::nullopt)
    return told(named, "color");
  // One colour reports what the frontend reports and the other does not.
  const auto by_field = [&](const std::optional<std::string>& answer, const std::optional<std::string>& b,
                            const std::optional<std::string>& g) -> std::optional<state::Color> {
    if (!answer || !b || !g || *b == *g) return std::nullopt;
    if (*answer == *b) return state::Color::kBlue;
    if (*answer == *g) return state::Color::kGreen;
    return std::nullopt;
  };
  if (auto color = by_field(frontend.commit, blue.commit, green.commit)) return told(color, "commit");
  return told(by_field(frontend.version, blue.version, green.version), "version");
}

FrontendView frontend_view(std::string url, remote::HealthReport report,
                           const std::optional<remote::HealthReport>& blue,
                           const std::optional<remote::HealthReport>& green) {
  FrontendView view{std::move(url), std::move(report), std::nullopt, "", ""};
  if (!view.report.healthy()) return view;
  const remote::HealthReport none;
  view.color = identify_colour(view.report, blue.value_or(none), green.value_or(none), &view.identified_by);
  if (!view.color && blue && green) {
    view.indistinct = view.url +
                      " names no colour (blue or green) in its answer, and it does not report the commit or "
                      "version of exactly one of BLUE and GREEN, so a request through it cannot tell which colour "
                      "answered and a switch could "
                      "never be verified. Make the app's health JSON include \"color\": \"blue\"/\"green\" (or "
                      "distinct \"commit\" values), or remove loadBalancer.verifyUrl from the configuration";
  }
  return view;
}

std::optional<FrontendView> probe_frontend(Services& services, const config::AppConfig& app) {
  const auto& url = app.load_balancer.verify_url;
  if (!url) return std::nullopt;
  auto report = services.probe(*url, app.health_gate.request_timeout);
  if (!report.healthy() || (report.color && state::parse_color(*report.color))) {
    return frontend_view(*url, std::move(report));
  }
  auto blue = services.probe(app.blue.front().health_url, app.health_gate.request_timeout);
  auto green = services.probe(app.green.front().health_url, app.health_gate.request_timeout);
  return frontend_view(*url, std::move(report), blue, green);
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
  const std::string product = config::product_name(lb.type);
  return product + " is not running its configuration: its files select " + file_colour + ", but requests through " +
         frontend->url + " are answered by " + serving +
         " (a reload failed or never happened, for example because the load balancer became unreachable "
         "during a switch). Users are on " +
         serving +
         ". Deploys and switches are refused until this is "
         "resolved. To keep " +
         serving + ": on " + lb.ssh +
         ", put back the file the last switch changed (its .bluegreen-backup) if that "
         "backup selects " +
         serving + ", or edit the app's routes back by hand. To apply the files (" + file_colour + "): reload " +
         product + " (" + reload + "). Then check get_deployment_status.";
}

}  // namespace bluegreen::deployment
