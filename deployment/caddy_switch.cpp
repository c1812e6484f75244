#include "deployment/caddy_switch.h"

#include "caddy/caddyfile_edit.h"
#include "caddy/config_json.h"
#include "common/text.h"
#include "deployment/caddy_snapshot.h"
#include "deployment/lb_scripts.h"
#include "deployment/live_confirmation.h"
#include "remote/shell_command.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace bluegreen::deployment {
namespace {

using nlohmann::json;

// The addresses Caddy is to dial for `color`, in configuration order, each once.
std::vector<std::string> target_dials(const config::AppConfig& app, state::Color color) {
  std::vector<std::string> dials;
  for (const auto& server : pool_of(app, color).servers) {
    if (std::find(dials.begin(), dials.end(), server.upstream) == dials.end()) dials.push_back(server.upstream);
  }
  return dials;
}

caddy::AppProxies proxies_of(const config::AppConfig& app, const json& config) {
  return caddy::find_proxies(config, caddy_dials(app.blue), caddy_dials(app.green));
}

}  // namespace

std::string caddy_switch_refusal(const config::AppConfig& app) {
  if (caddy_source_path(app.load_balancer) != nullptr) return "";
  return "switching Caddy needs its source of truth, and this app's loadBalancer gives neither caddyfile nor "
         "autosave; nothing was changed. Set loadBalancer.caddyfile to the Caddyfile Caddy runs, or, for a Caddy "
         "that resumes its autosaved JSON (caddy run --resume), loadBalancer.autosave to that file "
         "(Debian: /var/lib/caddy/.config/caddy/autosave.json). bluegreen-mcp then edits the app's reverse_proxy "
         "upstreams there, checks the result with Caddy and loads it with caddy reload";
}

bluegreen::Result<ConfigChange> plan_caddy_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                  state::Color to) {
  const auto& lb = app.load_balancer;
  if (auto refusal = caddy_switch_refusal(app); !refusal.empty()) return bluegreen::Error{std::move(refusal)};
  const auto& source = *caddy_source_path(lb);
  const auto name = caddy_source_name(app, source);
  if (!snapshot.routes || snapshot.running_config.empty()) {
    return bluegreen::Error{"Caddy's running configuration was not read: " + snapshot.live_problem};
  }
  // A switch cut off after its swap left the file ahead of what runs: the plan shown then is made
  // from the file alone (the switch rolls the file back first and plans again from there).
  const bool interrupted = interrupted_switch(snapshot);
  if (!snapshot.source_problem.empty() && !interrupted) {
    return bluegreen::Error{snapshot.source_problem + ". Make them agree first: " +
                            (lb.caddyfile ? "load the Caddyfile (caddy reload --adapter caddyfile --config " + source +
                                                ") if it is what should run, or write what runs into it"
                                          : "load the autosave (caddy reload --config " + source +
                                                ") if it is what should run, or let Caddy write it again (any "
                                                "config change through its admin API does)") +
                            "; then request a new plan"};
  }
  if (snapshot.config_files.empty()) return bluegreen::Error{name + " was not read"};
  const auto running = json::parse(snapshot.running_config, nullptr, false);
  if (running.is_discarded()) return bluegreen::Error{"Caddy's running configuration is not JSON"};
  const auto dials = target_dials(app, to);
  auto rewritten = caddy::rewrite_proxies(running, proxies_of(app, running).routes, dials);
  if (!rewritten) return rewritten.error();
  if (rewritten->changes.empty() && !interrupted) {
    return bluegreen::Error{"every route of app " + app.name + " already selects " + state::to_upper_string(to)};
  }
  const auto& file = snapshot.config_files.front();
  ConfigChange change;
  change.files = {file.path};
  if (!interrupted) change.running_after = rewritten->config.dump();
  FileEdit edit;
  edit.file = file.path;
  edit.before = file.text;
  if (lb.caddyfile) {
    auto text = caddy::rewrite_caddyfile_upstreams(file.text, caddy_dials(pool_of(app, state::other(to))), dials);
    if (!text) return bluegreen::Error{"cannot rewrite the app's upstreams in " + name + ": " + text.error().message};
    edit.after = std::move(text->after);
    for (const auto number : text->lines) {
      edit.lines.push_back(LineChange{number, "reverse_proxy upstreams", bluegreen::line_text(edit.before, number),
                                      bluegreen::line_text(edit.after, number)});
    }
  } else {
    // The autosave is the running JSON: the same rewrite, made on the file's own JSON.
    auto saved = json::parse(file.text, nullptr, false);
    auto in_file = caddy::rewrite_proxies(saved, proxies_of(app, saved).routes, dials);
    if (!in_file)
      return bluegreen::Error{"cannot rewrite the app's upstreams in " + name + ": " + in_file.error().message};
    if (in_file->changes.empty()) {
      return bluegreen::Error{name + " names no upstream of " + state::to_upper_string(state::other(to)) +
                              " to rewrite"};
    }
    edit.after = in_file->config.dump();
    for (const auto& each : in_file->changes) {
      edit.lines.push_back(LineChange{1, each.pointer, "upstreams " + bluegreen::join(each.before, " "),
                                      "upstreams " + bluegreen::join(each.after, " ")});
    }
  }
  change.edits.push_back(std::move(edit));
  return change;
}

std::string caddy_validate_command(const config::AppConfig& app, const std::map<std::string, std::string>& candidates) {
  auto placeholders = lb_placeholders(app);
  const auto* source = caddy_source_path(app.load_balancer);
  placeholders["config"] = !candidates.empty() ? candidates.begin()->second : source != nullptr ? *source : "";
  return remote::substitute_placeholders(app.load_balancer.validate_command, placeholders);
}

std::string check_caddy_candidate(Services& services, const config::AppConfig& app, const ConfigChange& change) {
  if (change.edits.empty() || change.running_after.empty()) return "";
  const auto candidate = candidate_path(app, change.edits.front().file);
  auto source = read_caddy_source(services.executor, app, candidate);
  if (!source) return source.error().message;
  const auto expected = json::parse(change.running_after, nullptr, false);
  auto difference = caddy_source_difference("the candidate " + candidate, source->adapted, expected, true);
  if (difference.empty()) return "";
  return "the edited " + std::string(app.load_balancer.caddyfile ? "Caddyfile" : "autosave") +
         " does not give the planned configuration, which is what Caddy runs with only the app's upstreams changed "
         "(a proxy of the app in an imported file is not edited): " +
         difference;
}

RoutingCheck verify_caddy_routing(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                                  const std::stop_token& stop) {
  const auto colour = state::to_upper_string(expected.color);
  const auto running =
      caddy_admin(services.executor, app, caddy::AdminRequest{"GET", "/config/", "", std::nullopt, ""});
  if (!running) return {false, false, running.error().message};
  if (running->status != 200) {
    return {false, false, "Caddy's admin API refused GET /config/: " + caddy::admin_error_text(*running)};
  }
  const auto config = json::parse(running->body, nullptr, false);
  const auto proxies = proxies_of(app, config);
  std::string wrong;
  for (const auto& route : proxies.routes) {
    const bool blue = route.colour == caddy::Colour::kBlue;
    if (blue != (expected.color == state::Color::kBlue)) {
      wrong += (wrong.empty() ? "" : "; ") + route.pointer + " dials " + bluegreen::join(route.dials, ", ");
    }
  }
  for (const auto& proxy : proxies.unsupported) wrong += (wrong.empty() ? "" : "; ") + proxy.pointer + ": " + proxy.why;
  if (proxies.routes.empty()) wrong = "no reverse_proxy of the app is left in it";
  if (!wrong.empty()) {
    return {false, false,
            "Caddy's running configuration does not route app " + app.name + " to " + colour + ": " + wrong};
  }
  std::string seen = "Caddy runs a configuration whose " + std::to_string(proxies.routes.size()) +
                     " reverse_proxy handler(s) of the app dial " + colour;
  if (const auto* file = caddy_source_path(app.load_balancer)) {
    auto source = read_caddy_source(services.executor, app, *file);
    if (!source) return {false, false, source.error().message};
    if (auto difference = caddy_source_difference(caddy_source_name(app, *file), source->adapted, config);
        !difference.empty()) {
      return {false, false, difference + ": what Caddy runs would not survive a restart"};
    }
    seen += ", as " + *file + " says";
  }
  return verify_frontends(services, app, expected, stop, seen);
}

bluegreen::Result<std::vector<std::string>> caddy_interrupted_swaps(Services& services, const config::AppConfig& app,
                                                                    const LbSnapshot& snapshot) {
  const auto& activity = *snapshot.activity;
  if (caddy_source_path(app.load_balancer) == nullptr || snapshot.config_files.empty()) {
    return bluegreen::Error{"Caddy's source of truth was not read: " +
                            (snapshot.source_problem.empty() ? snapshot.live_problem : snapshot.source_problem)};
  }
  const auto& live = snapshot.config_files.front();
  const auto backup_file = backup_path(app, live.path);
  // A file that selects the switch's colour was replaced (by the switch, or by hand): without its
  // original to put back, a reload would load it and move traffic, so nothing is done.
  const bool ahead = snapshot.source_selects == activity.color;
  const auto untrusted = [&](const std::string& why) {
    return bluegreen::Error{caddy_source_name(app, live.path) + " selects " + state::to_upper_string(activity.color) +
                            ", and " + why + ", so it cannot be put back to " + state::to_upper_string(activity.from) +
                            " safely"};
  };
  const auto backup = read_lb_file(services, app, backup_file);
  if (!backup) {
    if (backup.error().message != "No such file or directory") {
      return bluegreen::Error{"cannot read " + backup_file + ": " + backup.error().message};
    }
    if (ahead) return untrusted("there is no backup " + backup_file);
    return std::vector<std::string>{};
  }
  bool swapped = false;
  if (*backup != live.text && app.load_balancer.caddyfile) {
    const auto rewritten = caddy::rewrite_caddyfile_upstreams(*backup, caddy_dials(pool_of(app, activity.from)),
                                                              target_dials(app, activity.color));
    swapped = rewritten && rewritten->after == live.text;
  } else if (*backup != live.text) {
    // Caddy rewrites its autosave in its own format when it loads it: compared as JSON.
    const auto saved = json::parse(*backup, nullptr, false);
    const auto now = json::parse(live.text, nullptr, false);
    const auto rewritten =
        caddy::rewrite_proxies(saved, proxies_of(app, saved).routes, target_dials(app, activity.color));
    swapped = rewritten && !rewritten->changes.empty() && rewritten->config == now;
  }
  if (swapped) return std::vector<std::string>{live.path};
  if (ahead) {
    return untrusted("its backup " + backup_file +
                     " is not the file this switch started from (rewriting the backup to the switch's colour does "
                     "not give the live file)");
  }
  return std::vector<std::string>{};  // not replaced: an older switch's backup
}

}  // namespace bluegreen::deployment
