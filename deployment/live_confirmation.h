#pragma once
// May the colour HAProxy's config file selects be presented as live? Only when nothing says the
// running HAProxy may be running something else. Three things can say so:
//  - an activity record of a switch (deployment/activity_record.h) that is still running (another
//    server is between its swap and its verification) or was interrupted (the server died: the
//    file may be swapped and not reloaded, or reloaded and not verified);
//  - the config file was modified after the running workers started: HAProxy loads its config
//    when a worker starts (at start and at each reload), so a file changed later has not been
//    loaded (`show proc` gives the workers' uptime; /proc/stat and /proc/uptime give the LB's
//    clock, so no clock of this machine is involved). Resolution is about a second: a change
//    within ~1 s after a reload is not seen;
//  - a map entry that routes the app (map-based routing) whose value in the running HAProxy (`show
//    map`) differs from the map file (app_routing.h's map_runtime_problem);
//  - (checked elsewhere, frontend_check.h) the frontend answering with the other colour.
//
// Thread-safety: pure functions.

#include "config/config.h"
#include "deployment/lb_snapshot.h"

#include <cstdint>
#include <optional>
#include <string>

namespace bluegreen::deployment {

// The LB's clock from the text of /proc/stat (its "btime" line: boot time, s since the epoch)
// and /proc/uptime (s since boot, first field). nullopt when either is not in that form.
std::optional<std::int64_t> parse_boot_time(const std::string& proc_stat);
std::optional<double> parse_uptime(const std::string& proc_uptime);

// When the current workers (HAProxy or nginx) started, in s since the epoch by the LB's clock, or
// nullopt when not known. Whole seconds from whole-second inputs (boot time, uptimes), so it is
// off by up to 2 s and may differ by 1 s between two reads: a file changed less than about 3 s
// after the workers started is not reliably told apart from one changed before.
std::optional<std::int64_t> workers_started_s(const LbSnapshot& snapshot);

// The activity record is a switch whose server stopped before it finished: its lock is free (or
// the caller's) and the state file does not record it. `switch_recorded`: it did record it (it
// stopped after its last step; only the record was left behind).
bool interrupted_switch(const LbSnapshot& snapshot);
bool switch_recorded(const LbSnapshot& snapshot);
// The activity record is a deploy whose server stopped before it finished.
bool interrupted_deploy(const LbSnapshot& snapshot);
// The activity record is a deploy and whether it still runs could not be asked (its lock could
// not be checked): it may be running or interrupted, so its colour may be half deployed.
bool deploy_running_unknown(const LbSnapshot& snapshot);

// The deploy whose server stopped before it finished, if the snapshot shows one: the activity
// record itself, or the one a switch's record replaced (activity_record.h). Its state record:
// outcome "interrupted", at the time it started, with the step it was at.
std::optional<Activity> interrupted_deploy_of(const LbSnapshot& snapshot);
state::DeployRecord interrupted_deploy_record(const Activity& deploy);

// What the interrupted switch got as far as, from the file and HAProxy's reload counter:
// "the config was not swapped", "the config was swapped (selects GREEN) but HAProxy was not
// reloaded", "the config was swapped and HAProxy reloaded, but the switch was not verified or
// recorded", or "the previous config was put back" (a rollback that did not finish).
std::string interrupted_stage(const LbSnapshot& snapshot, const std::string& product = "HAProxy");
// The colour the configuration files select: snapshot.source_selects (Caddy) or selected.
std::optional<state::Color> file_selects(const LbSnapshot& snapshot);

// Why `snapshot.selected` may not be live, with what to do (the exact commands); "" when nothing
// says so. Reads the snapshot's activity, clock and process fields.
std::string live_unconfirmed(const config::AppConfig& app, const LbSnapshot& snapshot);

// Sets snapshot.live from snapshot.selected unless live_unconfirmed() says why not (then
// live_problem says it).
void confirm_live(const config::AppConfig& app, LbSnapshot& snapshot);

// The kinds' texts for a configuration changed on disk after the running workers started
// (`started`, s since the epoch; snapshot.config_modified_s set): what is on disk is not what
// serves users, with what to do (lb_kind.h's not_loaded_text).
std::string haproxy_not_loaded_text(const config::AppConfig& app, const LbSnapshot& snapshot, std::int64_t started);
std::string nginx_not_loaded_text(const config::AppConfig& app, const LbSnapshot& snapshot, std::int64_t started);

}  // namespace bluegreen::deployment
