#pragma once
// What HAProxy does after a reload, checked three ways: its master socket reports a completed
// reload with a live worker (`show proc`; HAProxy 2.6 has no synchronous reload status), the
// config file on disk selects the expected backend, and (when a verifyUrl is configured) several
// requests in a row through the frontend are answered by the expected colour.
//
// Thread-safety: reentrant.

#include "config/config.h"
#include "deployment/config_change.h"
#include "deployment/services.h"
#include "haproxy/runtime_api.h"

#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace bluegreen::deployment {

// HAProxy's process list from the app's master socket (forwarded through the LB's SSH connection
// where its sshd allows: well under a millisecond per look). Errors: no answer within 2 s, or an
// unparsable reply.
bluegreen::Result<haproxy::ProcessInfo> master_processes(Services& services, const config::AppConfig& app);

// The master's reload counter now, when a master socket is configured and answers.
std::optional<int> current_reloads(Services& services, const config::AppConfig& app);

// One file on the app's load balancer (`path`: one of HAProxy's configuration files), read afresh
// (over SFTP where the LB allows) with the LB's command deadline, up to 8 MiB. Errors: why it
// could not be read (the LB unreachable, "No such file or directory", a permission problem, too
// large).
bluegreen::Result<std::string> read_lb_file(Services& services, const config::AppConfig& app, const std::string& path);

struct RoutingCheck {
  bool ok = false;
  bool cancelled = false;  // `stop` was requested before the checks could finish
  std::string detail;      // what was seen ("; "-separated), or why it failed
};

struct RoutingExpectation {
  state::Color color = state::Color::kBlue;
  std::optional<int> reloads_before;  // the master's reload counter before the reload, if known
  // An emergency switch goes to a standby that may fail HAProxy's checks: a frontend that does
  // not answer from the new colour is then reported (with a warning sign) but not a failure, and
  // it is given 2 s instead of 5 s.
  bool frontend_advisory = false;
  // HAProxy's effective configuration (load order), re-read to check every route of the app;
  // empty: asked again (haproxy_files.h).
  std::vector<std::string> files;
  // The switch's change, when known (must outlive the call): its map files are re-read with the
  // configuration; when only maps changed (ConfigChange::map_only) no reload is waited for and
  // HAProxy's running maps must give every key of the app the expected colour's backend.
  const ConfigChange* change = nullptr;
  // nginx: its current workers before the reload; the reload counts once none of them is a current
  // worker any more (nginx_switch.h). nullopt: not known, so only a running worker is required.
  std::optional<std::vector<int>> workers_before;
};

// Through the app's load-balancer kind (lb_kind.h). HAProxy's:
// waits (polling every 10 ms, up to max(10 s, the LB's command timeout)) for the master to report
// a reload past `reloads_before`, then re-reads the configuration files (not cancellable: one read
// with the LB's command deadline; every route of the app must select the expected colour) and
// probes each verifyUrl (each must answer from the expected colour three times in a row). Without a known reload count
// it only requires the master to answer. `stop` ends the reload wait or the frontend probes early with `cancelled` set
// (also when the frontend check is advisory).
RoutingCheck verify_routing(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                            const std::stop_token& stop);

// The kinds' halves of verify_routing (lb_kind.h): HAProxy's as above; nginx's waits for new
// workers (nginx_switch.h), re-reads `nginx -T` and probes each verifyUrl.
RoutingCheck verify_haproxy_routing(Services& services, const config::AppConfig& app,
                                    const RoutingExpectation& expected, const std::stop_token& stop);
// The frontend half of a verification, after the load balancer's own checks saw `seen`: each
// verifyUrl must answer from expected.color three times in a row (advisory for an emergency
// switch, as above). The detail is `seen` followed by what each probe saw ("; "-separated).
RoutingCheck verify_frontends(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                              const std::stop_token& stop, std::string seen);
RoutingCheck verify_nginx_routing(Services& services, const config::AppConfig& app, const RoutingExpectation& expected,
                                  const std::stop_token& stop);

}  // namespace bluegreen::deployment
