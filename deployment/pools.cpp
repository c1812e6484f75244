#include "deployment/pools.h"

#include "deployment/lb_kind.h"
#include "haproxy/backend_servers.h"

#include <algorithm>
#include <set>

namespace bluegreen::deployment {

std::size_t min_healthy(const config::AppConfig& app, const config::Pool& pool) {
  const std::size_t wanted = app.health_gate.min_healthy == 0 ? pool.size() : app.health_gate.min_healthy;
  return std::max<std::size_t>(1, std::min(wanted, pool.size()));
}

std::size_t max_parallel(const config::AppConfig& app, const config::Pool& pool) {
  const std::size_t wanted = app.max_parallel == 0 ? pool.size() : app.max_parallel;
  return std::max<std::size_t>(1, std::min(wanted, pool.size()));
}

std::string server_label(const config::HostConfig& server) {
  return server.haproxy_server.empty() ? server.ssh : server.haproxy_server;
}

std::string pool_addresses(const config::Pool& pool) {
  if (pool.size() == 1) return pool.front().address;
  std::string text = std::to_string(pool.size()) + " servers: ";
  for (std::size_t i = 0; i < pool.size(); ++i) text += (i == 0 ? "" : ", ") + pool.servers[i].address;
  return text;
}

std::vector<std::string> pool_membership_drift(const config::AppConfig& app, const LbSnapshot& snapshot,
                                               state::Color color, bool* unknown) {
  std::vector<std::string> drift;
  if (!lb_kind(app).compares_pools()) {  // nginx's upstream servers: not compared yet
    if (unknown != nullptr) *unknown = true;
    return drift;
  }
  const auto& pool = pool_of(app, color);
  const std::string& backend = backend_of(app, color);
  const std::string colour = state::to_upper_string(color);
  // HAProxy's servers of the backend: running (stats socket), else configured (its files).
  std::vector<std::string> in_haproxy;
  std::string source;
  if (snapshot.servers) {
    source = "HAProxy's backend";
    for (const auto& server : *snapshot.servers) {
      if (server.backend == backend && server.server != "BACKEND") in_haproxy.push_back(server.server);
    }
  } else if (!snapshot.config_files.empty()) {
    const auto configured = haproxy::backend_servers(snapshot.config_files, {backend});
    const auto it = configured.find(backend);
    if (it == configured.end()) {
      if (unknown != nullptr) *unknown = true;
      return drift;
    }
    source = "the backend in HAProxy's files";
    for (const auto& server : it->second) {
      if (server.name.empty()) {  // server-template: named at run time
        if (unknown != nullptr) *unknown = true;
        return drift;
      }
      in_haproxy.push_back(server.name);
    }
  } else {
    if (unknown != nullptr) *unknown = true;
    return drift;
  }
  if (!pool.named()) {
    if (pool.size() == 1 && in_haproxy.size() > 1) {
      std::string names;
      for (const auto& name : in_haproxy) names += (names.empty() ? "" : ", ") + name;
      drift.push_back("POOL DRIFT: " + source + " \"" + backend + "\" (" + colour + ") has " +
                      std::to_string(in_haproxy.size()) + " servers (" + names + ") but hosts." +
                      std::string(state::to_string(color)) +
                      " configures one: traffic reaches servers that no deploy updates. List every server of the "
                      "backend in hosts." +
                      std::string(state::to_string(color)) + " (each with its haproxyServer).");
    }
    return drift;
  }
  const std::set<std::string> running(in_haproxy.begin(), in_haproxy.end());
  std::set<std::string> configured;
  for (const auto& server : pool.servers) configured.insert(server.haproxy_server);
  for (const auto& server : pool.servers) {
    if (running.count(server.haproxy_server) != 0) continue;
    drift.push_back("POOL DRIFT: " + colour + " server " + server.haproxy_server + " (" + server.ssh +
                    ") is configured but " + source + " \"" + backend +
                    "\" has no server of that name, so it never gets traffic (and the switch cannot rely on it). "
                    "Add `server " +
                    server.haproxy_server + " ...` to the backend, or fix hosts." +
                    std::string(state::to_string(color)) + "[].haproxyServer.");
  }
  for (const auto& name : running) {
    if (configured.count(name) != 0) continue;
    drift.push_back("POOL DRIFT: " + source + " \"" + backend + "\" (" + colour + ") has server " + name +
                    ", which is not in hosts." + std::string(state::to_string(color)) +
                    ": traffic reaches a server that no deploy updates. Add it to the configuration (with "
                    "haproxyServer \"" +
                    name + "\"), or remove it from the backend.");
  }
  return drift;
}

}  // namespace bluegreen::deployment
