#pragma once
// get_deployment_status's substance: everything known about one app, gathered in parallel
// (one SSH round trip to the LB, one to each app server, one HTTP probe per server), with the
// seed's JSON shape plus the extras, and a readable text with the same facts (status_render.cpp). Where a host has
// no SFTP, its round trip is one process on it (lb_snapshot.h, deployed_commit.h).
//
// Thread-safety: gather_status is reentrant.

#include "config/config.h"
#include "deployment/frontend_check.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"
#include "deployment/sessions.h"
#include "remote/http_probe.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bluegreen::deployment {

// One app server: its own health, deployed commit and HAProxy's view of it.
struct HostStatus {
  state::Color color = state::Color::kBlue;
  const config::HostConfig* host = nullptr;
  remote::HealthReport health;
  std::optional<std::string> deployed_commit;  // git HEAD in the app dir
  std::string commit_date;
  std::string commit_subject;
  std::string git_problem;
  // This server's row in its colour's backend (`show stat`): found by haproxyServer, or the
  // backend's only server when the colour is one server without haproxyServer; unset otherwise.
  std::optional<haproxy::ServerStatus> haproxy_server;
};

// One colour: its servers (one, or a pool) and HAProxy's view of its backend.
struct ColourStatus {
  state::Color color = state::Color::kBlue;
  std::vector<HostStatus> servers;                     // one per configured server, in configuration order
  std::vector<haproxy::ServerStatus> haproxy_servers;  // every server of the colour's backend, as HAProxy lists them
  std::string haproxy_backend_status;                  // the backend's aggregate status, if known
  ColourSessions sessions;                             // open sessions in HAProxy (deployment/sessions.h)
  std::string lb_product = "HAProxy";                  // whose view haproxy_servers is ("HAProxy", "Caddy")
  // For the standby: why it may not take traffic although its servers answer healthy (its last
  // deploy did not succeed, its servers run different code, HAProxy does not have them UP), or "".
  std::string not_ready;

  [[nodiscard]] const HostStatus& front() const { return servers.front(); }
  [[nodiscard]] std::size_t healthy_count() const;
  [[nodiscard]] bool all_healthy() const { return healthy_count() == servers.size(); }
  // What every server reports (its health's version; its deployed commit): the value when all
  // that report one agree, nullopt when none does or they differ (then *_mixed() is true). The
  // commit is mixed also when the commits the servers' health answers report differ.
  [[nodiscard]] std::optional<std::string> version() const;
  [[nodiscard]] bool version_mixed() const;
  [[nodiscard]] std::optional<std::string> commit() const;
  [[nodiscard]] bool commit_mixed() const;
};

// A load balancer of a pair after the first, as status read it (deployment/lb_pair.h).
struct OtherLb {
  std::string ssh;
  LbSnapshot lb;
  std::optional<FrontendView> frontend;  // through its own verifyUrl, when it has one
};

struct StatusReport {
  std::string app_name;
  LbSnapshot lb;                   // the (first) load balancer's view
  std::vector<OtherLb> other_lbs;  // the others of a pair, in configuration order (empty for one LB)
  ColourStatus blue;
  ColourStatus green;
  std::optional<FrontendView> frontend;  // what the running HAProxy serves, when a verifyUrl is set
  std::vector<std::string> drift;        // disagreements between the record and the truth, with what to do
  std::vector<std::string> warnings;     // other things worth knowing

  [[nodiscard]] const ColourStatus& colour(state::Color color) const {
    return color == state::Color::kBlue ? blue : green;
  }
  // Every load balancer's snapshot, the first's first.
  [[nodiscard]] std::vector<const LbSnapshot*> lb_snapshots() const;
  // The seed's JSON (current.prod/standby or hosts.blue/green, each the colour's summary with
  // servers[] per server), haproxy, loadBalancers[], history, stateFile, activity, drift, warnings.
  [[nodiscard]] nlohmann::json to_json(const config::AppConfig& app) const;
  [[nodiscard]] std::string to_text(const config::AppConfig& app) const;
};

StatusReport gather_status(Services& services, const config::AppConfig& app);

// Several apps at once: one SSH round trip per load balancer for all its apps (every load balancer
// of a pair), one git read per host and app directory, one probe per health URL, all in parallel.
// Reports are in `apps` order. A pair whose load balancers disagree (routing unknown on one,
// different colours, different state files) is reported as drift; when they route to different
// colours, no colour is live.
std::vector<StatusReport> gather_status_all(Services& services, const std::vector<const config::AppConfig*>& apps);

// Reads one host's deployed commit (git HEAD in its app dir) into `into`, or why it cannot.
void fill_deployed_commit(Services& services, const config::HostConfig& host, std::chrono::milliseconds timeout,
                          HostStatus& into);

// Deployed commits (deployed_commit, date, subject or git_problem set; nothing else) by
// (ssh destination, app directory).
using DeployedCommits = std::map<std::pair<std::string, std::string>, HostStatus>;

// The deployed commits of `hosts` (none null; several may share a host or an app directory), each
// within `timeout`: one read per host for all its app directories (deployed_commit.h's
// read_deployed_commits: without SFTP one process on the host), the hosts in parallel. Has an entry
// for every distinct (ssh, app_dir) of `hosts`. Thread-safe as gather_status is.
DeployedCommits read_deployed_commits_by_host(Services& services, const std::vector<const config::HostConfig*>& hosts,
                                              std::chrono::milliseconds timeout);

std::string short_commit(const std::string& commit);

}  // namespace bluegreen::deployment
