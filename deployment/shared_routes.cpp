#include "deployment/shared_routes.h"

namespace bluegreen::deployment {

namespace {

bool same_route(const config::LoadBalancerConfig& a, const config::LoadBalancerConfig& b) {
  return a.ssh == b.ssh && a.type == b.type && !a.blue_backend.empty() && !a.green_backend.empty() &&
         a.blue_backend == b.blue_backend && a.green_backend == b.green_backend;
}

}  // namespace

std::string shared_route_conflict(const config::Config& config, const config::AppConfig& app) {
  for (const auto& other : config.apps) {
    if (other.name == app.name) continue;
    for (const auto& mine : app.load_balancers) {
      for (const auto& theirs : other.load_balancers) {
        if (!same_route(mine, theirs)) continue;
        return "❌ REFUSED: apps " + app.name + " and " + other.name + " route through the same " +
               config::product_name(mine.type) + " backends (" + mine.blue_backend + " / " + mine.green_backend +
               " on " + mine.ssh +
               "), so switching one would move the other's traffic too, under the first one's "
               "approval settings. Nothing was changed. Give each app its own blue and green backends in the "
               "configuration (or keep one app for them).";
      }
    }
  }
  return "";
}

}  // namespace bluegreen::deployment
