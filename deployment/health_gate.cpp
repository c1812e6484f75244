#include "deployment/health_gate.h"

namespace bluegreen::deployment {

bool same_commit(const std::string& reported, const std::string& expected) {
  const std::size_t n = std::min(reported.size(), expected.size());
  return n >= 7 && reported.compare(0, n, expected, 0, n) == 0;
}

GateOutcome run_health_gate(const std::string& url, const std::optional<std::string>& expected_commit,
                            const GateSettings& settings, const Probe& probe, TimeSource& time,
                            const std::stop_token& stop, const GateProgress& progress) {
  const auto started = time.now();
  const auto deadline = started + settings.timeout;
  GateOutcome outcome;
  int streak = 0;

  while (true) {
    outcome.last = probe(url, settings.request_timeout);
    ++outcome.probes;
    const bool commit_ok =
        !expected_commit || !outcome.last.commit || same_commit(*outcome.last.commit, *expected_commit);
    if (outcome.last.healthy() && commit_ok) {
      ++streak;
      if (progress) {
        progress("health check " + std::to_string(streak) + "/" + std::to_string(settings.consecutive_successes) +
                 " passed (" + outcome.last.summary() + ")");
      }
      if (streak >= settings.consecutive_successes) {
        outcome.passed = true;
        break;
      }
    } else {
      streak = 0;
      outcome.reason = !outcome.last.healthy() ? "unhealthy: " + outcome.last.summary()
                                               : "still serving commit " + outcome.last.commit->substr(0, 12) +
                                                     ", expected " + expected_commit->substr(0, 12);
      if (progress) progress("waiting for health: " + outcome.reason);
    }
    if (time.now() + settings.interval > deadline) {
      outcome.reason = "not healthy " + std::to_string(settings.consecutive_successes) + " times in a row within " +
                       std::to_string(settings.timeout.count() / 1000) +
                       " s; last probe: " + (outcome.reason.empty() ? outcome.last.summary() : outcome.reason);
      break;
    }
    if (!time.sleep_for(settings.interval, stop) || stop.stop_requested()) {
      outcome.cancelled = true;
      outcome.reason = "cancelled";
      break;
    }
  }
  outcome.waited = std::chrono::milliseconds(time.ms_since(started));
  if (outcome.passed) outcome.reason.clear();
  return outcome;
}

}  // namespace bluegreen::deployment
