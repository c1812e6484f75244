#include "deployment/config_change.h"

#include "common/text.h"
#include "deployment/app_routing.h"
#include "deployment/lb_kind.h"
#include "haproxy/config_lines.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace bluegreen::deployment {

bool ConfigChange::map_only() const {
  return !edits.empty() && std::all_of(edits.begin(), edits.end(), [](const FileEdit& edit) { return edit.is_map; });
}

std::vector<std::string> ConfigChange::config_files_changed() const {
  std::vector<std::string> changed;
  for (const auto& edit : edits) {
    if (!edit.is_map) changed.push_back(edit.file);
  }
  return changed;
}

std::size_t ConfigChange::line_count() const {
  std::size_t count = 0;
  for (const auto& edit : edits) count += edit.lines.size();
  return count;
}

std::vector<std::string> bound_lines(const std::vector<const ConfigChange*>& changes) {
  std::vector<std::string> lines;
  for (const auto* change : changes) {
    for (const auto& edit : change->edits) {
      for (const auto& line : edit.lines) {
        lines.push_back(edit.file + ":" + std::to_string(line.number) + ": " + line.now + " => " + line.after);
      }
    }
  }
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  return lines;
}

std::string lines_digest(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

bluegreen::Result<ConfigChange> plan_config_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                   state::Color to) {
  return lb_kind(app).plan_change(app, snapshot, to);
}

bluegreen::Result<ConfigChange> plan_haproxy_change(const config::AppConfig& app, const LbSnapshot& snapshot,
                                                    state::Color to) {
  if (!snapshot.routes) return bluegreen::Error{"HAProxy's configuration was not read: " + snapshot.live_problem};
  const auto& routes = *snapshot.routes;
  auto changes = haproxy::rewrite_routes(snapshot.config_files, snapshot.map_texts, routes, backend_of(app, to));
  if (!changes) return changes.error();
  if (changes->empty()) {
    return bluegreen::Error{"every route of app " + app.name + " already selects " + state::to_upper_string(to)};
  }
  ConfigChange out;
  for (const auto& file : snapshot.config_files) out.files.push_back(file.path);
  for (auto& change : *changes) {
    FileEdit edit;
    edit.file = change.path;
    edit.is_map = change.is_map;
    edit.before = std::move(change.before);
    edit.after = std::move(change.after);
    for (const auto& route : routes.routes) {
      if (edit.is_map && route.file == edit.file) edit.map_keys.push_back(route.map_key);
    }
    for (const auto number : change.lines) {
      std::string section;
      for (const auto& route : routes.routes) {
        if (route.file != edit.file || route.line_number != number) continue;
        section = route.kind == haproxy::RouteKind::kMapEntry ? "map key " + route.map_key : route.section;
      }
      edit.lines.push_back(LineChange{number, section, bluegreen::line_text(edit.before, number),
                                      bluegreen::line_text(edit.after, number)});
    }
    out.edits.push_back(std::move(edit));
  }
  return out;
}

std::string routing_mismatch(const config::AppConfig& app, const std::vector<haproxy::ConfigFile>& files,
                             const std::map<std::string, std::string>& map_texts, state::Color expected) {
  const auto& lb = app.load_balancer;
  const auto routes = haproxy::find_routes(files, {lb.blue_backend, lb.green_backend}, map_texts);
  if (routes.entry_points.empty()) return "no entry point routes to the app any more";
  std::string wrong;
  for (const auto& route : routes.routes) {
    if (route_colour(app, route) != expected) {
      wrong += (wrong.empty() ? "" : "; ") + route_location(route) + " `" + haproxy::trimmed_line(route.line) + "`";
    }
  }
  return wrong.empty() ? "" : "still routing to " + state::to_upper_string(state::other(expected)) + ": " + wrong;
}

}  // namespace bluegreen::deployment
