#include "deployment/map_switch.h"

#include "deployment/lb_snapshot.h"
#include "haproxy/routes.h"
#include "haproxy/runtime_api.h"

namespace bluegreen::deployment {

std::string apply_running_map(remote::Executor& executor, const config::AppConfig& app, const std::string& file,
                              const std::string& text) {
  const auto& lb = app.load_balancer;
  if (!lb.stats_socket) return "no loadBalancer.statsSocket: HAProxy's running map cannot be changed";
  const auto prepared = query_haproxy_socket(executor, app, *lb.stats_socket, "prepare map " + file);
  if (!prepared) return "prepare map " + file + " failed: " + prepared.error().message;
  const auto version = haproxy::parse_prepare_map(*prepared);
  if (!version) return "prepare map " + file + ": " + version.error().message;
  std::vector<haproxy::RuntimeMapEntry> entries;
  for (const auto& entry : haproxy::parse_map(text)) entries.push_back({entry.key, entry.value});
  const auto committed = query_haproxy_socket(executor, app, *lb.stats_socket,
                                              haproxy::add_and_commit_map_request(file, *version, entries));
  if (!committed) return "committing the new entries of " + file + " failed: " + committed.error().message;
  if (auto problem = haproxy::map_commit_problem(*committed); !problem.empty()) {
    return "committing the new entries of " + file + ": " + problem;
  }
  return "";
}

std::string running_map_mismatch(remote::Executor& executor, const config::AppConfig& app, const std::string& file,
                                 const std::vector<std::string>& keys, const std::string& backend) {
  const auto& lb = app.load_balancer;
  if (!lb.stats_socket) return "no loadBalancer.statsSocket";
  const auto reply = query_haproxy_socket(executor, app, *lb.stats_socket, "show map " + file);
  if (!reply) return "show map " + file + " failed: " + reply.error().message;
  const auto entries = haproxy::parse_show_map(*reply);
  if (!entries) return "show map " + file + ": " + entries.error().message;
  std::string wrong;
  for (const auto& key : keys) {
    std::string value = "(no entry)";
    for (const auto& entry : *entries) value = entry.key == key ? entry.value : value;
    if (value != backend) wrong += (wrong.empty() ? "" : ", ") + key + " → " + value;
  }
  return wrong.empty() ? "" : "HAProxy's running map " + file + " has " + wrong + " (expected " + backend + ")";
}

}  // namespace bluegreen::deployment
