#include "deployment/switch_plan.h"

#include "deployment/app_routing.h"
#include "deployment/frontend_check.h"
#include "deployment/lb_kind.h"
#include "deployment/lb_pair.h"
#include "deployment/lb_snapshot.h"
#include "deployment/live_confirmation.h"
#include "deployment/pools.h"
#include "deployment/standby_gate.h"
#include "deployment/status.h"

#include <algorithm>
#include <future>
#include <sstream>
#include <utility>

namespace bluegreen::deployment {
namespace {

using bluegreen::Error;
using nlohmann::json;
using state::Color;

// The live system as a plan needs it, read in parallel: every load balancer (one, or a pair).
struct PlanInputs {
  std::vector<config::AppConfig> views;                // the app as each load balancer sees it (lb_pair.h)
  std::vector<LbSnapshot> snapshots;                   // one per load balancer
  std::vector<std::optional<FrontendView>> frontends;  // one probe each, not yet settled
  DeployedCommits commits;                             // every server's, by (ssh, appDir)
  [[nodiscard]] std::vector<const LbSnapshot*> all() const {
    std::vector<const LbSnapshot*> out;
    for (const auto& snapshot : snapshots) out.push_back(&snapshot);
    return out;
  }
};

PlanInputs read_plan_inputs(Services& services, const config::AppConfig& app) {
  PlanInputs inputs;
  inputs.views = lb_views(app);
  std::vector<std::future<LbSnapshot>> snapshots;
  std::vector<std::future<std::optional<FrontendView>>> frontends;
  for (const auto& view : inputs.views) {
    snapshots.push_back(std::async(std::launch::async, [&services, &view] {
      return read_lb_snapshot(services.executor, view, store_for(services.executor, view));
    }));
    frontends.push_back(std::async(std::launch::async, [&services, &view] { return probe_frontend(services, view); }));
  }
  // Every server in parallel (one read per host, whatever it serves).
  std::vector<const config::HostConfig*> servers;
  for (const auto* pool : {&app.blue, &app.green}) {
    for (const auto& server : pool->servers) servers.push_back(&server);
  }
  inputs.commits = read_deployed_commits_by_host(services, servers, app.load_balancer.command_timeout);
  for (auto& snapshot : snapshots) inputs.snapshots.push_back(snapshot.get());
  for (auto& frontend : frontends) inputs.frontends.push_back(frontend.get());
  return inputs;
}

// What one load balancer says about a switch: where it routes (or, after an interrupted switch,
// where that switch started), or why a switch cannot be planned on it.
struct LbPlanning {
  Color from = Color::kBlue;
  std::optional<Activity> interrupted;
  std::string stage;  // how far the interrupted switch had got
};

bluegreen::Result<LbPlanning> plan_on_lb(Services& services, const config::AppConfig& view, const LbSnapshot& snapshot,
                                         const std::optional<FrontendView>& frontend, bool emergency) {
  LbPlanning planning;
  std::optional<Color> from = snapshot.live;
  if (!from && interrupted_switch(snapshot)) {
    // Rolled back first, then switched again: from what the state file records.
    const auto& interrupted = *snapshot.activity;
    if (snapshot.state && snapshot.state->prod != interrupted.from) {
      return Error{snapshot.live_problem +
                   ". The state file records PROD=" + state::to_upper_string(snapshot.state->prod) +
                   ", which is not where the interrupted switch started, so it must be resolved by hand."};
    }
    from = interrupted.from;
    planning.interrupted = interrupted;
    planning.stage = interrupted_stage(snapshot, config::product_name(view.load_balancer.type));
  }
  if (!from || !snapshot.routes) {
    return Error{snapshot.live_problem + ". A switch needs to know what is live; nothing was changed."};
  }
  if (snapshot.state_status == StateFileStatus::kCorrupt || snapshot.state_status == StateFileStatus::kUnreadable) {
    return Error{snapshot.state_problem};
  }
  if (frontend && !frontend->indistinct.empty() && !emergency) {
    return Error{"its verification could never succeed: " + frontend->indistinct + "."};
  }
  if (!planning.interrupted) {
    if (const auto mismatch = frontend_mismatch(view, snapshot, settle_frontend(services, view, snapshot, frontend));
        !mismatch.empty()) {
      return Error{mismatch};
    }
  }
  planning.from = *from;
  return planning;
}

json last_deploy_json(const std::optional<state::DeployRecord>& deploy) {
  if (!deploy) return nullptr;
  return {{"ref", deploy->ref},
          {"commit", deploy->commit},
          {"outcome", deploy->outcome},
          {"timestamp", deploy->timestamp}};
}

std::string last_deploy_text(const state::DeployRecord& deploy) {
  return "ref " + deploy.ref + (deploy.commit.empty() ? "" : " commit " + short_commit(deploy.commit)) + ", " +
         (deploy.outcome == "ok" ? "✅ succeeded" : "❌ " + deploy.outcome) + " (recorded " + deploy.timestamp + ")";
}

json change_json(const PlanView& view) {
  json lines = json::array();
  json files = json::array();
  for (const auto& edit : view.change.edits) {
    files.push_back(edit.file);
    for (const auto& line : edit.lines) {
      lines.push_back({{"file", edit.file},
                       {"line", line.number},
                       {"section", line.section},
                       {"now", line.now},
                       {"after", line.after}});
    }
  }
  const auto* edit = view.change.edits.empty() ? nullptr : &view.change.edits.front();
  const auto* first = edit == nullptr || edit->lines.empty() ? nullptr : &edit->lines.front();
  return {
      {"config", edit ? json(edit->file) : json(nullptr)},         {"files", files},
      {"lineNumber", first ? json(first->number) : json(nullptr)}, {"now", first ? json(first->now) : json(nullptr)},
      {"after", first ? json(first->after) : json(nullptr)},       {"lines", lines},
      {"mode", view.change.map_only() ? "map" : "reload"},         {"entryPoints", view.entry_points}};
}

// The change the human approves. An interrupted switch is rolled back first, so the lines it had
// already moved to `to` are shown as they change from the rolled-back config (the reverse of going
// back to `from`), beside those it had not reached.
bluegreen::Result<ConfigChange> plan_shown_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                  const PlanView& view, bool interrupted_here) {
  if (!interrupted_here) return plan_config_change(app, snapshot, view.plan.to);
  auto back = plan_config_change(app, snapshot, view.plan.from);
  auto forward = plan_config_change(app, snapshot, view.plan.to);
  if (!back) return forward;
  for (auto& edit : back->edits) {
    std::swap(edit.before, edit.after);
    for (auto& line : edit.lines) std::swap(line.now, line.after);
  }
  if (forward) back->edits.insert(back->edits.end(), forward->edits.begin(), forward->edits.end());
  return back;
}

// The standby servers' commits into view.standby_servers (and standby_commit when they agree);
// returns {commits, problems}, one per server.
std::pair<std::vector<std::optional<std::string>>, std::vector<std::string>> standby_commits(
    const config::AppConfig& app, const PlanInputs& inputs, PlanView& view) {
  const auto& pool = pool_of(app, view.plan.to);
  view.min_healthy = min_healthy(app, pool);
  std::vector<std::optional<std::string>> commits;
  std::vector<std::string> commit_problems;
  for (const auto& server : pool.servers) {
    const auto& read = inputs.commits.at({server.ssh, server.app_dir});
    commits.push_back(read.deployed_commit);
    commit_problems.push_back(read.git_problem);
    view.standby_servers.push_back({&server, {}, false, read.deployed_commit});
  }
  view.standby_commit = commits.front();
  for (const auto& commit : commits) {
    if (commit != view.standby_commit) view.standby_commit.reset();
  }
  return {commits, commit_problems};
}

// An emergency plan shows the standby's health without requiring it: one probe per server.
void probe_standby(Services& services, const config::AppConfig& app, PlanView& view) {
  std::vector<std::future<remote::HealthReport>> probes;
  for (const auto& server : view.standby_servers) {
    probes.push_back(std::async(std::launch::async, [&services, &app, url = server.server->health_url] {
      return services.probe(url, app.health_gate.request_timeout);
    }));
  }
  for (std::size_t i = 0; i < probes.size(); ++i) {
    view.standby_servers[i].health = probes[i].get();
    view.standby_servers[i].passed = view.standby_servers[i].health.healthy();
  }
  view.standby_health = view.standby_servers.front().health;
}

// The gate's verdict per server into the view; why the standby may not take traffic (its pool
// unlike HAProxy's backend, its servers on different commits), or nullopt.
std::optional<std::string> judge_standby(
    const config::AppConfig& app, const LbSnapshot& snapshot, const StandbyGate& gate,
    const std::pair<std::vector<std::optional<std::string>>, std::vector<std::string>>& commits, PlanView& view) {
  view.standby_health = gate.last;
  for (std::size_t i = 0; i < gate.servers.size() && i < view.standby_servers.size(); ++i) {
    view.standby_servers[i].health = gate.servers[i].outcome.last;
    view.standby_servers[i].passed = gate.servers[i].outcome.passed;
  }
  if (const auto drift = pool_membership_drift(app, snapshot, view.plan.to); !drift.empty()) {
    return "Cannot switch traffic: " + drift.front();
  }
  const auto& pool = pool_of(app, view.plan.to);
  if (const auto problem = standby_commit_problem(pool, commits.first, commits.second, gate); !problem.empty()) {
    return "Cannot switch traffic: STANDBY " + state::to_upper_string(view.plan.to) + " is not ready: " + problem + ".";
  }
  return std::nullopt;
}

// Every load balancer's planning (plan_on_lb), which must agree on `from`; the first interrupted
// switch found goes into `view`.
bluegreen::Result<std::vector<LbPlanning>> plan_on_every_lb(Services& services, const config::AppConfig& app,
                                                            const PlanInputs& inputs, bool emergency, PlanView& view) {
  const bool pair = inputs.views.size() > 1;
  std::vector<LbPlanning> plannings;
  for (std::size_t i = 0; i < inputs.views.size(); ++i) {
    auto planning = plan_on_lb(services, inputs.views[i], inputs.snapshots[i], inputs.frontends[i], emergency);
    const std::string where = pair ? "on " + inputs.views[i].load_balancer.ssh + ": " : "";
    if (!planning) return Error{where + planning.error().message};
    if (!plannings.empty() && planning->from != plannings.front().from) {
      return Error{pair_divergence(app, inputs.all()).front()};
    }
    if (planning->interrupted && !view.interrupted) {
      view.interrupted = planning->interrupted;
      view.recovery_stage = where + planning->stage;
    }
    plannings.push_back(std::move(planning.value()));
  }
  return plannings;
}

// An emergency plan's warnings: what a normal plan would refuse (the last deploy, pool drift on
// any load balancer, servers on different commits), after one probe of each standby server.
void warn_emergency(Services& services, const config::AppConfig& app, const PlanInputs& inputs,
                    const std::pair<std::vector<std::optional<std::string>>, std::vector<std::string>>& commits,
                    PlanView& view) {
  const bool pair = inputs.views.size() > 1;
  probe_standby(services, app, view);
  StandbyGate shown;  // the probes as a gate: a healthy server counts as serving
  for (const auto& server : view.standby_servers) {
    ServerGate each;
    each.server = server.server;
    each.outcome.passed = server.passed;
    each.outcome.last = server.health;
    shown.servers.push_back(std::move(each));
  }
  std::vector<std::string> warnings;
  if (!view.deploy_warning.empty()) warnings.push_back(view.deploy_warning);
  for (std::size_t i = 0; i < inputs.views.size(); ++i) {
    for (const auto& drift : pool_membership_drift(inputs.views[i], inputs.snapshots[i], view.plan.to)) {
      warnings.push_back((pair ? "on " + inputs.views[i].load_balancer.ssh + ": " : std::string()) + drift);
    }
  }
  if (const auto problem = standby_commit_problem(pool_of(app, view.plan.to), commits.first, commits.second, shown);
      !problem.empty()) {
    warnings.push_back("STANDBY " + state::to_upper_string(view.plan.to) + ": " + problem);
  }
  view.deploy_warning.clear();
  for (const auto& warning : warnings) view.deploy_warning += (view.deploy_warning.empty() ? "" : ". ") + warning;
}

}  // namespace

bluegreen::Result<PlanView> plan_switch(Services& services, const config::AppConfig& app, bool emergency) {
  // A setup this version cannot switch (Caddy without a Caddyfile) is refused before anything is
  // read or staged.
  if (auto refusal = lb_kind(app).switch_refusal(app); !refusal.empty()) return Error{std::move(refusal)};
  const auto inputs = read_plan_inputs(services, app);
  const auto& snapshot = inputs.snapshots.front();
  const bool pair = inputs.views.size() > 1;
  PlanView view;
  auto planned = plan_on_every_lb(services, app, inputs, emergency, view);
  if (!planned) return planned.error();
  const auto& plannings = *planned;
  const Color from = plannings.front().from;
  const LbSnapshot* newest = newest_state(inputs.all());
  // What the approval is bound to: the state generation; for a pair, the sum of every load
  // balancer's (each write raises one, so any write anywhere voids the approval).
  std::uint64_t generation = 0;
  for (const auto& each : inputs.snapshots) generation += each.generation();
  view.plan = SwitchPlan{app.name,   from,      state::other(from),
                         generation, emergency, view.interrupted ? view.interrupted->since : std::string()};
  auto change = plan_shown_change(app, snapshot, view, plannings.front().interrupted.has_value());
  const std::string product = config::product_name(app.load_balancer.type);
  if (!change) return Error{"cannot prepare the " + product + " change: " + change.error().message};
  view.change = std::move(change.value());
  for (std::size_t i = 1; i < inputs.views.size(); ++i) {
    auto other = plan_shown_change(inputs.views[i], inputs.snapshots[i], view, plannings[i].interrupted.has_value());
    if (!other) {
      return Error{"on " + inputs.views[i].load_balancer.ssh + ": cannot prepare the " + product +
                   " change: " + other.error().message};
    }
    view.other_changes.emplace_back(inputs.views[i].load_balancer.ssh, std::move(other.value()));
  }
  std::vector<const ConfigChange*> changes{&view.change};
  for (const auto& [ssh, other] : view.other_changes) changes.push_back(&other);
  view.plan.lines = bound_lines(changes);
  for (const auto& entry : snapshot.routes->entry_points) {
    view.entry_points.push_back(describe_entry_point(app, *snapshot.routes, entry));
  }
  const auto commits = standby_commits(app, inputs, view);
  const auto& recorded = newest != nullptr ? *newest : snapshot;
  view.next_switch_number = (recorded.state ? recorded.state->switch_count : 0) + 1;
  view.last_deploy = last_deploy_to(recorded, view.plan.to);
  for (const auto& each : inputs.snapshots) {
    if (const auto problem = standby_deploy_problem(each, view.plan.to); !problem.empty()) {
      if (!emergency) return Error{problem + "."};
      view.deploy_warning = problem;
      break;
    }
  }

  if (emergency) {  // health is shown, not required; what a normal plan would refuse is warned about
    warn_emergency(services, app, inputs, commits, view);
    return view;
  }
  const auto gate = plan_time_standby_gate(services, app, view.plan.to, {});
  if (auto refused = judge_standby(app, snapshot, gate, commits, view)) return Error{*refused};
  if (gate.passed) {  // HAProxy's own view (MAINT, DRAIN, DOWN), as the execution will judge it
    for (std::size_t i = 0; i < inputs.views.size(); ++i) {
      if (const auto problem = standby_problem_now(inputs.views[i], inputs.snapshots[i], view.plan.to, gate, true);
          !problem.empty()) {
        return Error{"Cannot switch traffic: STANDBY " + state::to_upper_string(view.plan.to) + " is not ready: " +
                     (pair ? "on " + inputs.views[i].load_balancer.ssh + ": " : std::string()) + problem + "."};
      }
    }
  }
  for (std::size_t i = 1; i < inputs.views.size(); ++i) {  // a pair's other backends, against the pools
    if (const auto drift = pool_membership_drift(inputs.views[i], inputs.snapshots[i], view.plan.to); !drift.empty()) {
      return Error{"Cannot switch traffic: on " + inputs.views[i].load_balancer.ssh + ": " + drift.front()};
    }
  }
  if (!gate.passed) {
    return Error{"Cannot switch traffic: STANDBY " + state::to_upper_string(view.plan.to) + " is not healthy (" +
                 gate.reason +
                 "). Fix or redeploy it (deploy_to_standby), or, only to roll back from a broken PROD, use "
                 "emergency=true." +
                 (view.interrupted ? " (" + snapshot.live_problem + ")" : "")};
  }
  return view;
}

json plan_json(const config::AppConfig& app, const PlanView& view) {
  const auto& health = view.standby_health;
  json servers = json::array();
  bool all_passed = true;
  for (const auto& s : view.standby_servers) {
    all_passed = all_passed && s.passed;
    servers.push_back({{"server", server_label(*s.server)},
                       {"ssh", s.server->ssh},
                       {"ip", s.server->address},
                       {"healthy", s.passed},
                       {"health", s.health.summary()},
                       {"version", s.health.version ? json(*s.health.version) : json(nullptr)},
                       {"commit", s.commit ? json(*s.commit) : json(nullptr)}});
  }
  const auto colour_json = [&app](Color color) {
    const auto& pool = pool_of(app, color);
    json names = json::array();
    for (const auto& server : pool.servers) names.push_back(server_label(server));
    return json{{"server", state::to_upper_string(color)}, {"ip", pool.front().address}, {"servers", names}};
  };
  json plan{{"app", app.name},
            {"from", colour_json(view.plan.from)},
            {"to", colour_json(view.plan.to)},
            {"haproxy", change_json(view)},
            {"standby",
             {{"healthy", view.standby_servers.size() == 1 ? health.healthy() : all_passed},
              {"health", health.summary()},
              {"version", health.version ? json(*health.version) : json(nullptr)},
              {"commit", view.standby_commit ? json(*view.standby_commit) : json(nullptr)},
              {"lastDeploy", last_deploy_json(view.last_deploy)},
              {"minHealthy", view.min_healthy},
              {"servers", servers}}},
            {"emergency", view.plan.emergency},
            {"stateGeneration", view.plan.generation},
            {"changeDigest", lines_digest(view.plan.lines)},
            {"switchNumber", view.next_switch_number}};
  if (!view.other_changes.empty()) {
    json others = json::array();
    for (const auto& [ssh, change] : view.other_changes) {
      json lines = json::array();
      for (const auto& edit : change.edits) {
        for (const auto& line : edit.lines) {
          lines.push_back({{"file", edit.file}, {"line", line.number}, {"now", line.now}, {"after", line.after}});
        }
      }
      others.push_back({{"ssh", ssh}, {"lines", lines}, {"mode", change.map_only() ? "map" : "reload"}});
    }
    plan["haproxy"]["loadBalancer"] = app.load_balancer.ssh;
    plan["otherLoadBalancers"] = others;
  }
  if (view.interrupted) {
    plan["interruptedSwitch"] = view.interrupted->to_json();
    plan["interruptedSwitch"]["stage"] = view.recovery_stage;
  }
  if (!view.deploy_warning.empty()) plan["warning"] = view.deploy_warning;
  return plan;
}

std::string plan_text(const config::AppConfig& app, const PlanView& view) {
  const std::string from = state::to_upper_string(view.plan.from);
  const std::string to = state::to_upper_string(view.plan.to);
  const std::string product = config::product_name(app.load_balancer.type);
  std::ostringstream out;
  out << "⚠️ TRAFFIC SWITCH APPROVAL REQUIRED" << (view.plan.emergency ? " (EMERGENCY MODE)" : "") << " — app "
      << app.name << "\n\n"
      << "Current PROD: " << from << " (" << pool_addresses(pool_of(app, view.plan.from)) << ")\n"
      << "New PROD: " << to << " (" << pool_addresses(pool_of(app, view.plan.to)) << ") — ";
  if (view.standby_servers.size() <= 1) {
    out << (view.standby_health.healthy() ? "✅ healthy" : "❌ NOT healthy") << ", " << view.standby_health.summary();
  } else {
    const auto passed = std::count_if(view.standby_servers.begin(), view.standby_servers.end(),
                                      [](const PlanServer& s) { return s.passed; });
    out << passed << "/" << view.standby_servers.size() << " servers healthy (" << view.min_healthy << " needed)";
  }
  if (view.standby_commit) out << ", deployed commit " << short_commit(*view.standby_commit);
  if (view.standby_servers.size() > 1) {
    for (const auto& s : view.standby_servers) {
      out << "\n  - " << server_label(*s.server) << " (" << s.server->address << ") " << (s.passed ? "✅ " : "❌ ")
          << s.health.summary() << (s.commit ? ", deployed commit " + short_commit(*s.commit) : std::string());
    }
  }
  if (view.last_deploy) out << "\nLast deploy to " << to << ": " << last_deploy_text(*view.last_deploy);
  if (!view.deploy_warning.empty()) out << "\n⚠️ WARNING: " << view.deploy_warning << ".";
  if (view.interrupted) {
    out << "\n\n⚠️ AN INTERRUPTED SWITCH will be rolled back first: " << view.interrupted->describe()
        << ". Its server stopped before it finished: " << view.recovery_stage << ". Approving this plan first puts "
        << from << "'s config back, reloads " << product << " and verifies " << from << ", then does the switch below.";
  }
  const auto change_text = [&out, &product](const std::string& where, const ConfigChange& change) {
    out << "\n\n"
        << product << where << ": " << change.line_count() << (change.line_count() == 1 ? " line" : " lines")
        << " change, every route of the app:\n";
    for (const auto& edit : change.edits) {
      out << "  " << (edit.is_map ? "map " : "") << edit.file << "\n";
      for (const auto& line : edit.lines) {
        out << "    line " << line.number << (line.section.empty() ? "" : " (" + line.section + ")") << "\n"
            << "      now:   " << trim_blanks(line.now) << "\n"
            << "      after: " << trim_blanks(line.after) << "\n";
      }
    }
  };
  const bool pair = !view.other_changes.empty();
  change_text(pair ? " on " + app.load_balancer.ssh : std::string(), view.change);
  for (const auto& [ssh, change] : view.other_changes) change_text(" on " + ssh, change);
  if (pair) {
    out << "The " << view.other_changes.size() + 1
        << " load balancers are switched together: if any fails, every one already switched is put back.\n";
  }
  if (const auto& routes = view.entry_points; !routes.empty()) {
    out << (view.interrupted
                ? "Entry points, as the files say now (" + product + " may still run what it loaded before):\n"
                : std::string("Entry points:\n"));
    for (const auto& entry : routes) out << "  - " << entry << "\n";
  }
  out << "\nThis will:\n";
  if (view.change.map_only()) {
    out << "1. Write the new map file and switch it in atomically, keeping a backup (a later reload keeps the choice)\n"
        << "2. Replace HAProxy's running map at once (prepare/commit map, no reload) and verify it routes to " << to
        << " (rolling back automatically if not)\n";
  } else {
    out << "1. Validate the new " << product << " config (" << lb_kind(app).validate_word()
        << ") and switch it in atomically, keeping a backup\n"
        << "2. Reload " << product << " and verify it routes to " << to << " (rolling back automatically if not)\n";
  }
  out << "3. Swap PROD/STANDBY roles and record switch #" << view.next_switch_number << " in the state file\n";
  if (view.plan.emergency) out << "Emergency mode: the standby health requirement is skipped.\n";
  return out.str();
}

std::string approval_request_text(const config::AppConfig& app, const PlanView& view, const std::string& token,
                                  std::chrono::milliseconds ttl) {
  std::ostringstream out;
  out << plan_text(app, view);
  if (token.empty()) {  // the human answers in the client's own form
    out << "\nApprove below to switch now, or decline to leave everything as it is (this plan is valid for "
        << ttl.count() / 1000 << " s).";
    return out.str();
  }
  out << "\nShow this plan to the human. Only after they explicitly approve it, call switch_traffic with\n"
      << "approvalToken=\"" << token << "\" (single use, valid " << ttl.count() / 1000 << " s, only for this plan).\n"
      << "To cancel, take no action. Never approve on the human's behalf.";
  return out.str();
}

}  // namespace bluegreen::deployment
