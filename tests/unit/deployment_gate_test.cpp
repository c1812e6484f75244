// run_health_gate on a FakeTime: the consecutive-success rule, deadlines and cancellation,
// without waiting.

#include "deployment/health_gate.h"
#include "tests/support/fake_time.h"

#include <catch2/catch.hpp>

#include <stop_token>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using deployment::GateSettings;
using deployment::run_health_gate;
using testing_support::FakeTime;

namespace {

remote::HealthReport healthy(const std::string& commit = "abcdef1234567890") {
  remote::HealthReport report;
  report.status = 200;
  report.commit = commit;
  report.version = "2.0.0";
  return report;
}

remote::HealthReport unhealthy() {
  remote::HealthReport report;
  report.status = 503;
  return report;
}

// A probe answering `answers` in order, then the last one forever; counts its calls.
struct ScriptedProbe {
  ScriptedProbe() = default;
  explicit ScriptedProbe(std::vector<remote::HealthReport> scripted) : answers(std::move(scripted)) {}

  std::vector<remote::HealthReport> answers;
  std::size_t calls = 0;
  std::function<void(std::size_t)> on_call;

  deployment::Probe probe() {
    return [this](const std::string&, std::chrono::milliseconds) {
      const auto index = std::min(calls, answers.size() - 1);
      ++calls;
      if (on_call) on_call(calls);
      return answers[index];
    };
  }
};

GateSettings settings(int successes = 3, int timeout_ms = 10000, int interval_ms = 500) {
  return GateSettings{std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(interval_ms), successes,
                      std::chrono::milliseconds(2000)};
}

}  // namespace

TEST_CASE("the health gate passes only after N consecutive successes", "[deployment][gate]") {
  FakeTime time;
  ScriptedProbe probe({healthy(), unhealthy(), healthy(), healthy(), healthy()});
  std::vector<std::string> progress;
  const auto outcome = run_health_gate("http://h/health", std::nullopt, settings(), probe.probe(), time, {},
                                       [&progress](const std::string& line) { progress.push_back(line); });
  CHECK(outcome.passed);
  CHECK_FALSE(outcome.cancelled);
  CHECK(outcome.probes == 5);
  CHECK(outcome.reason.empty());
  CHECK(outcome.waited == std::chrono::milliseconds(2000));  // 4 intervals between 5 probes
  REQUIRE(progress.size() == 5);
  CHECK(progress[1].rfind("waiting for health: unhealthy", 0) == 0);
  CHECK(progress[4].rfind("health check 3/3 passed", 0) == 0);
}

TEST_CASE("a flapping host never passes the health gate", "[deployment][gate]") {
  FakeTime time;
  ScriptedProbe probe;
  for (int i = 0; i < 100; ++i) probe.answers.push_back(i % 2 == 0 ? healthy() : unhealthy());
  const auto outcome =
      run_health_gate("http://h/health", std::nullopt, settings(2, 10000, 500), probe.probe(), time, {});
  CHECK_FALSE(outcome.passed);
  CHECK_FALSE(outcome.cancelled);
  CHECK(outcome.probes == 21);  // one every 500 ms for 10 s, and none that could not be followed
  CHECK(outcome.reason.find("not healthy 2 times in a row within 10 s") != std::string::npos);
  CHECK(outcome.waited <= std::chrono::milliseconds(10000));
}

TEST_CASE("a commit mismatch breaks the health gate's streak", "[deployment][gate]") {
  FakeTime time;
  const std::string expected = "0123456789abcdef0123456789abcdef01234567";
  SECTION("old commit in the middle") {
    ScriptedProbe probe({healthy(expected), healthy(expected), healthy("fedcba9876543210"), healthy(expected),
                         healthy(expected), healthy(expected)});
    const auto outcome = run_health_gate("u", expected, settings(), probe.probe(), time, {});
    CHECK(outcome.passed);
    CHECK(outcome.probes == 6);
  }
  SECTION("the old commit for ever") {
    ScriptedProbe probe({healthy("fedcba9876543210")});
    const auto outcome = run_health_gate("u", expected, settings(3, 3000, 500), probe.probe(), time, {});
    CHECK_FALSE(outcome.passed);
    CHECK(outcome.reason.find("still serving commit fedcba987654, expected 0123456789ab") != std::string::npos);
  }
  SECTION("a short hash of the expected commit matches") {
    ScriptedProbe probe({healthy("0123456")});
    CHECK(run_health_gate("u", expected, settings(), probe.probe(), time, {}).passed);
  }
  SECTION("an endpoint that reports no commit is not held to one") {
    auto report = healthy();
    report.commit.reset();
    ScriptedProbe probe({report});
    CHECK(run_health_gate("u", expected, settings(), probe.probe(), time, {}).passed);
  }
}

TEST_CASE("the health gate gives up at its deadline", "[deployment][gate]") {
  FakeTime time;
  ScriptedProbe probe({unhealthy()});
  const auto start = time.now();
  const auto outcome =
      run_health_gate("http://h/health", std::nullopt, settings(3, 5000, 1000), probe.probe(), time, {});
  CHECK_FALSE(outcome.passed);
  CHECK(outcome.probes == 6);
  CHECK(outcome.waited == std::chrono::milliseconds(5000));
  CHECK(time.now() - start == std::chrono::milliseconds(5000));
  CHECK(outcome.reason.find("last probe: unhealthy: HTTP 503") != std::string::npos);
}

TEST_CASE("the health gate stops when cancelled", "[deployment][gate]") {
  FakeTime time;
  std::stop_source stop;
  ScriptedProbe probe({healthy(), unhealthy()});
  probe.on_call = [&stop](std::size_t n) {
    if (n == 3) stop.request_stop();
  };
  const auto outcome = run_health_gate("u", std::nullopt, settings(), probe.probe(), time, stop.get_token());
  CHECK_FALSE(outcome.passed);
  CHECK(outcome.cancelled);
  CHECK(outcome.reason == "cancelled");
  CHECK(outcome.probes == 3);

  SECTION("already cancelled: one probe, no wait") {
    ScriptedProbe again({unhealthy()});
    const auto before = time.now();
    const auto second = run_health_gate("u", std::nullopt, settings(), again.probe(), time, stop.get_token());
    CHECK(second.cancelled);
    CHECK(second.probes == 1);
    CHECK(time.now() == before);
  }
}

TEST_CASE("FakeTime sleeps advance the clock at once and honour the stop token", "[deployment][gate]") {
  FakeTime time;
  const auto start = time.now();
  CHECK(time.sleep_for(std::chrono::milliseconds(1500), {}));
  CHECK(time.ms_since(start) == 1500);
  std::stop_source stop;
  stop.request_stop();
  CHECK_FALSE(time.sleep_for(std::chrono::milliseconds(1000), stop.get_token()));
  CHECK(time.ms_since(start) == 1500);
  CHECK(time.sleeps() == 1);
}
