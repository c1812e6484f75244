#pragma once
// The health gate: a host counts as ready only after several consecutive healthy probes that
// also report the expected commit (when the endpoint reports one), within a deadline. A
// momentary success between failures never passes.
//
// Thread-safety: stateless function; the probe is called from the caller's thread.

#include "deployment/time_source.h"
#include "remote/http_probe.h"

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>

namespace bluegreen::deployment {

struct GateSettings {
  std::chrono::milliseconds timeout{60000};
  std::chrono::milliseconds interval{500};
  int consecutive_successes = 3;
  std::chrono::milliseconds request_timeout{2000};
};

struct GateOutcome {
  bool passed = false;
  bool cancelled = false;
  int probes = 0;
  std::chrono::milliseconds waited{0};
  remote::HealthReport last;  // the last probe's report
  std::string reason;         // why it did not pass
};

using Probe = std::function<remote::HealthReport(const std::string& url, std::chrono::milliseconds timeout)>;
using GateProgress = std::function<void(const std::string& message)>;

// Probes `url` every settings.interval until settings.consecutive_successes healthy answers in a
// row, settings.timeout passes (no probe is started that could not be followed by the interval
// before the deadline), or `stop` is requested. `expected_commit`: when set and the endpoint
// reports a commit, the commit must match (prefix match either way, so short and long hashes
// compare); a mismatch breaks the streak like an unhealthy answer. `progress` hears one line per
// probe. Waiting goes through `time`. Never fails: the outcome says passed, cancelled, or why not.
GateOutcome run_health_gate(const std::string& url, const std::optional<std::string>& expected_commit,
                            const GateSettings& settings, const Probe& probe, TimeSource& time,
                            const std::stop_token& stop, const GateProgress& progress = {});

// True when `reported` and `expected` name the same commit (one is a prefix of the other, >= 7 chars).
bool same_commit(const std::string& reported, const std::string& expected);

}  // namespace bluegreen::deployment
