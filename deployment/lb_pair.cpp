#include "deployment/lb_pair.h"

#include <algorithm>
#include <numeric>

namespace bluegreen::deployment {

config::AppConfig app_on_lb(const config::AppConfig& app, std::size_t index) {
  config::AppConfig view = app;
  // load_balancer is the first's source of truth (code and tests that adjust one LB adjust it).
  if (index > 0) view.load_balancer = app.load_balancers.at(index);
  view.load_balancers = {view.load_balancer};
  return view;
}

std::vector<config::AppConfig> lb_views(const config::AppConfig& app) {
  std::vector<config::AppConfig> views;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, app.load_balancers.size()); ++i) {
    views.push_back(app_on_lb(app, i));
  }
  return views;
}

std::vector<std::size_t> lock_order(const std::vector<config::LoadBalancerConfig>& load_balancers) {
  std::vector<std::size_t> order(load_balancers.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&load_balancers](std::size_t a, std::size_t b) {
    return load_balancers[a].ssh < load_balancers[b].ssh;
  });
  return order;
}

std::string lb_position(const std::string& ssh, const LbSnapshot& snapshot) {
  if (!snapshot.live) return ssh + ": " + snapshot.live_problem;
  std::string text = ssh + " routes to " + state::to_upper_string(*snapshot.live);
  if (snapshot.state) {
    text += " (state generation " + std::to_string(snapshot.state->generation) +
            ", PROD=" + state::to_upper_string(snapshot.state->prod) + ")";
  } else {
    text += " (state file: " + (snapshot.state_problem.empty() ? std::string("none") : snapshot.state_problem) + ")";
  }
  return text;
}

std::vector<std::string> pair_divergence(const config::AppConfig& app,
                                         const std::vector<const LbSnapshot*>& snapshots) {
  std::vector<std::string> drift;
  if (snapshots.size() < 2) return drift;
  std::string positions;
  for (std::size_t i = 0; i < snapshots.size(); ++i) {
    positions += (i == 0 ? "" : "; ") + lb_position(app.load_balancers[i].ssh, *snapshots[i]);
  }
  const bool all_known = std::all_of(snapshots.begin(), snapshots.end(), [](const LbSnapshot* s) { return s->live; });
  if (!all_known) {
    drift.push_back("LB PAIR: the routing of a load balancer is unknown (" + positions +
                    "). Users behind it may be on either colour. Deploys and switches are refused until every load "
                    "balancer answers (a switch changes them all or none): fix its SSH access or HAProxy, then check "
                    "get_deployment_status.");
    return drift;
  }
  if (!pair_live(snapshots)) {
    drift.push_back("LB PAIR DIVERGED: the load balancers route to different colours (" + positions +
                    "), so users get either colour depending on the load balancer they reach. Deploys and switches "
                    "are refused until they agree: put the odd one back by hand (its route lines, or the "
                    ".bluegreen-backup its last switch left), reload its HAProxy, then check get_deployment_status.");
    return drift;
  }
  const auto& first = *snapshots.front();
  for (std::size_t i = 1; i < snapshots.size(); ++i) {
    const auto& other = *snapshots[i];
    const bool same = first.state.has_value() == other.state.has_value() &&
                      (!first.state ||
                       (first.state->generation == other.state->generation && first.state->prod == other.state->prod));
    if (same) continue;
    drift.push_back("LB PAIR: the state files differ (" + positions +
                    "). HAProxy on both routes to the same colour, so users are not affected; the next deploy or "
                    "switch writes the newest state to every load balancer.");
    break;
  }
  return drift;
}

std::optional<state::Color> pair_live(const std::vector<const LbSnapshot*>& snapshots) {
  std::optional<state::Color> live;
  for (const auto* snapshot : snapshots) {
    if (!snapshot->live || (live && *live != *snapshot->live)) return std::nullopt;
    live = snapshot->live;
  }
  return live;
}

const LbSnapshot* newest_state(const std::vector<const LbSnapshot*>& snapshots) {
  const LbSnapshot* newest = nullptr;
  for (const auto* snapshot : snapshots) {
    if (snapshot->state && (newest == nullptr || snapshot->generation() > newest->generation())) newest = snapshot;
  }
  return newest;
}

}  // namespace bluegreen::deployment
