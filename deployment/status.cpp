#include "deployment/status.h"

#include "deployment/app_routing.h"
#include "deployment/health_gate.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_pair.h"
#include "deployment/live_confirmation.h"
#include "deployment/pools.h"
#include "deployment/standby_gate.h"

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <sstream>
#include <tuple>

namespace bluegreen::deployment {
namespace {

using nlohmann::json;
using state::Color;

void attach_haproxy_view(const config::AppConfig& app, const LbSnapshot& lb, ColourStatus& colour) {
  const auto& kind = lb_kind(app);
  colour.lb_product = kind.product();
  if (!lb.servers) return;
  const std::string& backend = backend_of(app, colour.color);
  for (const auto& server : *lb.servers) {
    if (server.backend != backend) continue;
    if (server.server == "BACKEND") colour.haproxy_backend_status = server.status;
    else colour.haproxy_servers.push_back(server);
  }
  for (auto& host : colour.servers) {
    const std::string& name = kind.server_name(*host.host);
    if (name.empty() && colour.servers.size() == 1 && colour.haproxy_servers.size() == 1) {
      host.haproxy_server = colour.haproxy_servers.front();
      continue;
    }
    for (const auto& server : colour.haproxy_servers) {
      if (!name.empty() && server.server == name) host.haproxy_server = server;
    }
  }
}

// The one value every server reports (`field` of each), or nullopt; `mixed` says they differ.
template <typename Field>
std::optional<std::string> common_value(const std::vector<HostStatus>& servers, Field field, bool* mixed) {
  std::optional<std::string> value;
  for (const auto& server : servers) {
    const auto& mine = field(server);
    if (!mine) continue;
    if (value && *value != *mine) {
      if (mixed != nullptr) *mixed = true;
      return std::nullopt;
    }
    value = mine;
  }
  if (mixed != nullptr) *mixed = false;
  return value;
}

const std::optional<std::string>& version_of(const HostStatus& host) { return host.health.version; }
const std::optional<std::string>& commit_of(const HostStatus& host) { return host.deployed_commit; }

}  // namespace

std::size_t ColourStatus::healthy_count() const {
  return static_cast<std::size_t>(
      std::count_if(servers.begin(), servers.end(), [](const HostStatus& host) { return host.health.healthy(); }));
}

std::optional<std::string> ColourStatus::version() const { return common_value(servers, version_of, nullptr); }

bool ColourStatus::version_mixed() const {
  bool mixed = false;
  (void)common_value(servers, version_of, &mixed);
  return mixed;
}

std::optional<std::string> ColourStatus::commit() const { return common_value(servers, commit_of, nullptr); }

bool ColourStatus::commit_mixed() const {
  bool mixed = false;
  (void)common_value(servers, commit_of, &mixed);
  std::optional<std::string> running;  // what the health answers report (short or long hashes)
  for (const auto& server : servers) {
    const auto& reported = server.health.commit;
    if (!reported) continue;
    if (running && !same_commit(*reported, *running)) return true;
    running = reported;
  }
  return mixed;
}

std::string short_commit(const std::string& commit) { return commit.substr(0, 8); }

namespace {

void fill_from(const bluegreen::Result<DeployedCommit>& commit, HostStatus& into) {
  if (!commit) {
    into.git_problem = commit.error().message;
    return;
  }
  into.deployed_commit = commit->hash;
  into.commit_date = commit->date;
  into.commit_subject = commit->subject;
}

}  // namespace

void fill_deployed_commit(Services& services, const config::HostConfig& host, std::chrono::milliseconds timeout,
                          HostStatus& into) {
  fill_from(read_deployed_commit(services.executor, *services.commits, host, timeout), into);
}

DeployedCommits read_deployed_commits_by_host(Services& services, const std::vector<const config::HostConfig*>& hosts,
                                              std::chrono::milliseconds timeout) {
  // One read per host, however many app directories it has; the hosts in parallel.
  std::map<std::string, std::vector<const config::HostConfig*>> by_ssh;
  for (const auto* host : hosts) {
    auto& dirs = by_ssh[host->ssh];
    const bool seen = std::any_of(dirs.begin(), dirs.end(), [&](const auto* d) { return d->app_dir == host->app_dir; });
    if (!seen) dirs.push_back(host);
  }
  std::vector<std::pair<const std::vector<const config::HostConfig*>*,
                        std::future<std::vector<bluegreen::Result<DeployedCommit>>>>>
      reads;
  for (const auto& [ssh, dirs] : by_ssh) {
    reads.emplace_back(&dirs, std::async(std::launch::async, [&services, &dirs = dirs, timeout] {
      return read_deployed_commits(services.executor, *services.commits, dirs, timeout);
    }));
  }
  DeployedCommits commits;
  for (auto& [dirs, future] : reads) {
    const auto results = future.get();
    for (std::size_t i = 0; i < dirs->size(); ++i) {
      fill_from(results[i], commits[{(*dirs)[i]->ssh, (*dirs)[i]->app_dir}]);
    }
  }
  return commits;
}

namespace {

// The servers of each colour: PROD servers failing their checks, servers of one colour on
// different code, pools unlike HAProxy's backends.
void assess_servers(const config::AppConfig& app, StatusReport& report) {
  if (const auto live = report.lb.live) {
    const auto& prod = report.colour(*live);
    for (const auto& server : prod.servers) {
      if (server.health.healthy()) continue;
      report.warnings.push_back("PROD (" + state::to_upper_string(*live) + ")" +
                                (prod.servers.size() == 1 ? "" : " server " + server_label(*server.host)) +
                                " fails its health check: " + server.health.summary());
    }
    if (prod.commit_mixed() || prod.version_mixed()) {
      report.drift.push_back("PROD " + state::to_upper_string(*live) + "'s servers are on different " +
                             (prod.commit_mixed() ? "commits" : "versions") +
                             ": users get either, depending on the server HAProxy picks. Deploy to the standby and "
                             "switch, or redeploy the odd servers by hand.");
    }
    const auto& standby = report.colour(state::other(*live));
    if (standby.commit_mixed() || standby.version_mixed()) {
      report.warnings.push_back("STANDBY " + state::to_upper_string(standby.color) + "'s servers are on different " +
                                (standby.commit_mixed() ? "commits" : "versions") +
                                " (a deploy did not reach them all): a switch to it is refused until "
                                "deploy_to_standby succeeds.");
    }
  }
  for (const auto color : {Color::kBlue, Color::kGreen}) {
    bool unknown = false;
    for (auto& line : pool_membership_drift(app, report.lb, color, &unknown)) report.drift.push_back(std::move(line));
    if (const auto& kind = lb_kind(app); unknown && pool_of(app, color).size() > 1 && !kind.compares_pools()) {
      report.warnings.push_back("whether " + std::string(kind.product()) + "'s " + kind.pool_word() + " \"" +
                                backend_of(app, color) + "\" holds exactly the " + state::to_upper_string(color) +
                                " pool is not checked by this version.");
    } else if (unknown && pool_of(app, color).size() > 1) {
      report.warnings.push_back("whether HAProxy's backend \"" + backend_of(app, color) + "\" holds exactly the " +
                                state::to_upper_string(color) +
                                " pool cannot be checked (no answer from loadBalancer.statsSocket and no server "
                                "lines of that backend in HAProxy's files); configure statsSocket.");
    }
    for (const auto& server : report.colour(color).servers) {
      const auto answers = server.health.color ? state::parse_color(*server.health.color) : std::nullopt;
      if (!answers || *answers == color) continue;
      report.drift.push_back(
          state::to_upper_string(color) + " server " + server_label(*server.host) + "'s health URL " +
          server.host->health_url + " answers as " + state::to_upper_string(*answers) +
          ": it is another colour's server. Fix its healthUrl in hosts." + std::string(state::to_string(color)) + ".");
    }
  }
  if (report.lb.live) {  // the standby: fit for traffic?
    auto& standby = state::other(*report.lb.live) == Color::kBlue ? report.blue : report.green;
    if (const auto problem = standby_deploy_problem(report.lb, standby.color); !problem.empty()) {
      standby.not_ready = "its last deploy did not succeed";
    } else if (standby.commit_mixed() || standby.version_mixed()) {
      standby.not_ready = "its servers run different code";
    } else if (report.lb.servers) {
      std::size_t up = 0;
      for (const auto& server : standby.haproxy_servers) {  // "UP 1/2": up, a check failed since
        up += server.status.rfind("UP", 0) == 0 || server.status == "no check";
      }
      const std::size_t needed = app.health_gate.min_healthy == 0 ? standby.haproxy_servers.size()
                                                                  : min_healthy(app, pool_of(app, standby.color));
      if (!standby.haproxy_servers.empty() && up < needed) {
        standby.not_ready = "HAProxy has " + std::to_string(up) + " of " +
                            std::to_string(standby.haproxy_servers.size()) + " of its servers UP";
      }
    }
  }
  for (const auto* colour : {&report.blue, &report.green}) {
    for (const auto& host : colour->servers) {
      if (!host.git_problem.empty()) report.warnings.push_back(host.git_problem);
    }
  }
}

// The standby's open sessions: a deploy now would cut them.
void assess_draining(StatusReport& report) {
  if (!report.lb.live) return;
  const auto& standby = report.colour(state::other(*report.lb.live));
  if (!standby.sessions.known || standby.sessions.open() == 0) return;
  const auto stop_after = hard_stop_after(report.lb);
  report.warnings.push_back(
      "STANDBY " + state::to_upper_string(standby.color) +
      " is still draining: " + std::to_string(standby.sessions.open()) +
      " open sessions (long-lived connections from before the last switch). A deploy to it now would cut them; "
      "wait until status shows 0 open" +
      (stop_after.empty() ? std::string()
                          : " (HAProxy cuts what old workers still hold " + stop_after + " after a reload)") +
      ".");
}

// A pair's load balancers against each other: one whose frontend contradicts its files counts as
// unknown; disagreement is drift, and unless every load balancer routes to the same known colour,
// no colour is live.
void assess_pair(const config::AppConfig& app, const std::vector<const config::AppConfig*>& others,
                 StatusReport& report) {
  if (report.other_lbs.empty()) return;
  for (std::size_t i = 0; i < report.other_lbs.size() && i < others.size(); ++i) {
    auto& other = report.other_lbs[i];
    if (const auto mismatch = frontend_mismatch(*others[i], other.lb, other.frontend); !mismatch.empty()) {
      other.lb.live.reset();
      other.lb.live_problem = mismatch;
    }
  }
  const auto snapshots = report.lb_snapshots();
  auto divergence = pair_divergence(app, snapshots);
  const bool all_known =
      std::all_of(snapshots.begin(), snapshots.end(), [](const LbSnapshot* s) { return s->live.has_value(); });
  if (!pair_live(snapshots)) {  // one routes elsewhere, or cannot be told: no colour is live for all users
    report.lb.live.reset();
    report.lb.live_problem = all_known ? "the load balancers of the pair route to different colours"
                                       : "the routing of a load balancer of the pair is unknown";
  }
  report.drift.insert(report.drift.begin(), divergence.begin(), divergence.end());
}

// Drift and warnings, once everything about one app is known (`others`: the views of a pair's
// other load balancers, lb_pair.h).
void assess(const config::AppConfig& app, const std::vector<const config::AppConfig*>& others, StatusReport& report) {
  attach_haproxy_view(app, report.lb, report.blue);
  attach_haproxy_view(app, report.lb, report.green);
  report.blue.sessions = colour_sessions(app, report.lb, Color::kBlue);
  report.green.sessions = colour_sessions(app, report.lb, Color::kGreen);
  assess_draining(report);
  if (!report.lb.old_workers_problem.empty()) report.warnings.push_back(report.lb.old_workers_problem);

  // The running HAProxy contradicts its file: the file's colour is not what users get, so no
  // colour is presented as live.
  if (const auto mismatch = frontend_mismatch(app, report.lb, report.frontend); !mismatch.empty()) {
    report.lb.live.reset();
    report.lb.live_problem = mismatch;
  }
  assess_pair(app, others, report);
  // Drift: the record against the truth.
  const auto& lb_view = report.lb;
  if (lb_view.live && lb_view.state && lb_view.state->prod != *lb_view.live) {
    const std::string product = config::product_name(app.load_balancer.type);
    report.drift.push_back("The state file says PROD is " + state::to_upper_string(lb_view.state->prod) + " but " +
                           product + " routes to " + state::to_upper_string(*lb_view.live) + ". " + product +
                           " is what serves users, so " + state::to_upper_string(*lb_view.live) +
                           " is PROD. The next deploy or switch rewrites the state file from " + product +
                           "'s routing; if someone edited " + product + " by hand, make sure that was intended.");
  }
  if (lb_view.live) {
    const auto& prod = report.colour(*lb_view.live);
    if (!prod.haproxy_backend_status.empty() && prod.haproxy_backend_status.rfind("UP", 0) != 0) {
      report.drift.push_back("HAProxy's own health checks mark the live backend \"" + backend_of(app, *lb_view.live) +
                             "\" as " + prod.haproxy_backend_status + ": users may be getting errors. Check " +
                             state::to_upper_string(*lb_view.live) +
                             " now; if it cannot be fixed quickly, an emergency switch to " +
                             state::to_upper_string(state::other(*lb_view.live)) + " is the way back.");
    }
  }
  assess_servers(app, report);
  if (const auto deploy = interrupted_deploy_of(lb_view)) {
    report.drift.push_back("AN INTERRUPTED DEPLOY was found: " + deploy->describe() +
                           ". Its server stopped before it finished, so " + state::to_upper_string(deploy->color) +
                           " may be half deployed even if its health check passes. Deploy to it again "
                           "(deploy_to_standby); a switch to it is refused until a deploy succeeds (or is an "
                           "emergency).");
  }
  if (deploy_running_unknown(lb_view)) {
    report.drift.push_back("A DEPLOY RECORD was found (" + lb_view.activity->describe() +
                           ") and whether it is still running could not be checked (" +
                           lb_view.activity_running_problem + "), so " +
                           state::to_upper_string(lb_view.activity->color) +
                           " may be half deployed. Fix what stops the check; a switch to it is refused until then "
                           "(or is an emergency).");
  }
  if (!lb_view.activity_problem.empty()) report.warnings.push_back(lb_view.activity_problem);
  if (!lb_view.source_problem.empty() && !interrupted_switch(lb_view)) {
    // Caddy: its source file is not what runs (caddy_switch.h). During an interrupted switch the
    // file is expected to be ahead, and the problem above says how to put it back instead.
    report.drift.push_back(lb_view.source_problem + ". Switches are refused until they agree: load the file (" +
                           lb_reload_command(app) + ") if it is what should run, or write what runs into it.");
  }
  if (report.frontend && !report.frontend->indistinct.empty()) {
    report.warnings.push_back("switches are refused: " + report.frontend->indistinct);
  }
  if (app.load_balancer.master_socket && !lb_view.clock_problem.empty()) {
    report.warnings.push_back("whether HAProxy loaded its config file cannot be checked: " + lb_view.clock_problem);
  }
  if (!lb_view.servers_problem.empty()) report.warnings.push_back(lb_view.servers_problem);
  if (!lb_view.processes_problem.empty()) report.warnings.push_back(lb_view.processes_problem);
}

// Every server's health URL and every verifyUrl of `apps`, probed once each, in parallel; fills
// `app_hosts` with every server and `git_timeout` with the longest command timeout.
std::map<std::string, std::future<remote::HealthReport>> start_probes(Services& services,
                                                                      const std::vector<const config::AppConfig*>& apps,
                                                                      std::vector<const config::HostConfig*>& app_hosts,
                                                                      std::chrono::milliseconds& git_timeout) {
  std::map<std::string, std::future<remote::HealthReport>> probes;
  for (const auto* app : apps) {
    std::vector<const config::HostConfig*> servers;
    for (const auto* pool : {&app->blue, &app->green}) {
      for (const auto& server : pool->servers) servers.push_back(&server);
    }
    app_hosts.insert(app_hosts.end(), servers.begin(), servers.end());
    git_timeout = std::max(git_timeout, app->load_balancer.command_timeout);
    for (const auto* host : servers) {
      if (probes.count(host->health_url) == 0) {
        probes.emplace(host->health_url, std::async(std::launch::async, [&services, host, app] {
                         return services.probe(host->health_url, app->health_gate.request_timeout);
                       }));
      }
    }
    for (const auto& lb : app->load_balancers) {
      const auto& url = lb.verify_url;
      if (!url || probes.count(*url) != 0) continue;
      probes.emplace(*url, std::async(std::launch::async, [&services, url = *url, app] {
        return services.probe(url, app->health_gate.request_timeout);
      }));
    }
  }

  return probes;
}

// The colours of `report` from what was read: each server's commit and health.
void fill_colours(const config::AppConfig& app, const DeployedCommits& git,
                  const std::map<std::string, remote::HealthReport>& health, StatusReport& report) {
  for (auto [color, pool, into] :
       {std::tuple{Color::kBlue, &app.blue, &report.blue}, std::tuple{Color::kGreen, &app.green, &report.green}}) {
    into->color = color;
    for (const auto& server : pool->servers) {
      HostStatus host = git.at({server.ssh, server.app_dir});
      host.color = color;
      host.host = &server;
      host.health = health.at(server.health_url);
      into->servers.push_back(std::move(host));
    }
  }
}

// Every load balancer of `apps` read at once, grouped by host (one round trip per load balancer
// for all its apps); a pair's other load balancers through views of the app (lb_pair.h).
class LbReads {
 public:
  LbReads(Services& services, const std::vector<const config::AppConfig*>& apps) {
    for (std::size_t i = 0; i < apps.size(); ++i) {
      jobs_.push_back({i, 0, apps[i]});
      for (std::size_t k = 1; k < apps[i]->load_balancers.size(); ++k) {
        views_.push_back(app_on_lb(*apps[i], k));
        jobs_.push_back({i, k, &views_.back()});
      }
    }
    for (const auto& job : jobs_) stores_.push_back(store_for(services.executor, *job.view));
    std::map<std::string, std::vector<std::size_t>> by_lb;
    for (std::size_t j = 0; j < jobs_.size(); ++j) by_lb[jobs_[j].view->load_balancer.ssh].push_back(j);
    for (const auto& [lb, indexes] : by_lb) {
      std::vector<const config::AppConfig*> group;
      std::vector<const state::StateStore*> group_stores;
      for (const auto j : indexes) {
        group.push_back(jobs_[j].view);
        group_stores.push_back(&stores_[j]);
      }
      reads_.emplace_back(indexes, std::async(std::launch::async, [&services, group, group_stores] {
                            return read_lb_snapshots(services.executor, group, group_stores,
                                                     SnapshotOptions{true, false, services.change_times.get(),
                                                                     services.own_activities.get()});
                          }));
    }
  }

  // Waits for the reads: each report's lb and other_lbs, and `others[i]` the views of app i's
  // other load balancers (alive as long as this object).
  void collect(std::vector<StatusReport>& reports, std::vector<std::vector<const config::AppConfig*>>& others) {
    for (const auto& job : jobs_) {
      if (job.lb == 0) continue;
      reports[job.app].other_lbs.push_back({job.view->load_balancer.ssh, {}, std::nullopt});
      others[job.app].push_back(job.view);
    }
    for (auto& [indexes, future] : reads_) {
      auto snapshots = future.get();
      for (std::size_t k = 0; k < indexes.size(); ++k) {
        const auto& job = jobs_[indexes[k]];
        auto& report = reports[job.app];
        (job.lb == 0 ? report.lb : report.other_lbs[job.lb - 1].lb) = std::move(snapshots[k]);
      }
    }
  }

 private:
  struct Job {
    std::size_t app;
    std::size_t lb;  // index in the app's load_balancers
    const config::AppConfig* view;
  };
  std::deque<config::AppConfig> views_;  // stable addresses
  std::vector<Job> jobs_;
  std::vector<state::StateStore> stores_;
  std::vector<std::pair<std::vector<std::size_t>, std::future<std::vector<LbSnapshot>>>> reads_;
};

}  // namespace

std::vector<StatusReport> gather_status_all(Services& services, const std::vector<const config::AppConfig*>& apps) {
  // Everything at once, and everything shared read once: one SSH round trip per load balancer
  // (for all its apps), one git read per host (for all its app directories), one probe per health
  // URL. A pair's other load balancers are read through views of the app (lb_pair.h).
  LbReads reads(services, apps);
  std::vector<const config::HostConfig*> app_hosts;
  std::chrono::milliseconds git_timeout{0};
  auto probes = start_probes(services, apps, app_hosts, git_timeout);

  // While the LB reads and the probes run: each app host read once (its threads run in parallel).
  const auto git = read_deployed_commits_by_host(services, app_hosts, git_timeout);

  std::vector<StatusReport> reports(apps.size());
  std::vector<std::vector<const config::AppConfig*>> others(apps.size());
  reads.collect(reports, others);
  std::map<std::string, remote::HealthReport> health;
  for (auto& [url, future] : probes) health.emplace(url, future.get());

  for (std::size_t i = 0; i < apps.size(); ++i) {
    const auto& app = *apps[i];
    auto& report = reports[i];
    report.app_name = app.name;
    fill_colours(app, git, health, report);
    const auto frontend_of = [&](const config::AppConfig& view,
                                 const LbSnapshot& snapshot) -> std::optional<FrontendView> {
      const auto& url = view.load_balancer.verify_url;
      if (!url) return std::nullopt;
      return settle_frontend(services, view, snapshot,
                             frontend_view(*url, health.at(*url), health.at(app.blue.front().health_url),
                                           health.at(app.green.front().health_url)));
    };
    report.frontend = frontend_of(app, report.lb);
    for (std::size_t k = 0; k < report.other_lbs.size(); ++k) {
      report.other_lbs[k].frontend = frontend_of(*others[i][k], report.other_lbs[k].lb);
    }
    assess(app, others[i], report);
  }
  return reports;
}

StatusReport gather_status(Services& services, const config::AppConfig& app) {
  return std::move(gather_status_all(services, {&app}).front());
}

}  // namespace bluegreen::deployment
