#pragma once
// DeploymentRig: everything a deployment-layer test needs, wired together: the test app's
// config, a FakeTime, an ApprovalBook on the fake clock, a FakeLb (with its ScriptedExecutor),
// the Services bundle over them, and a RecordingReporter.
//
// RecordingReporter simulates the MCP progress/log channel: it keeps every step message and note.
//
// Thread-safety: RecordingReporter may be called from several threads; the rig itself is built
// and inspected by the test thread (its parts are thread-safe, see their headers).

#include "deployment/approvals.h"
#include "deployment/config_change.h"
#include "deployment/lb_snapshot.h"
#include "deployment/services.h"
#include "tests/support/fake_lb.h"
#include "tests/support/fake_time.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace testing_support {
using namespace bluegreen;  // NOLINT(google-build-using-namespace): test support

class RecordingReporter final : public deployment::Reporter {
 public:
  void step(double done, double total, const std::string& message) override {
    std::lock_guard lock(mutex_);
    (void)done;
    (void)total;
    steps_.push_back(message);
  }
  void note(const std::string& message) override {
    std::lock_guard lock(mutex_);
    notes_.push_back(message);
  }
  [[nodiscard]] std::vector<std::string> steps() const {
    std::lock_guard lock(mutex_);
    return steps_;
  }
  [[nodiscard]] std::vector<std::string> notes() const {
    std::lock_guard lock(mutex_);
    return notes_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> steps_;
  std::vector<std::string> notes_;
};

struct DeploymentRig {
  explicit DeploymentRig(config::AppConfig config = test_app(), state::Color live = state::Color::kBlue,
                         bool state_file = true)
      : app(std::move(config)), lb(app, live, state_file) {}

  config::AppConfig app;
  FakeTime time;
  deployment::ApprovalBook approvals{[this] { return time.now(); }};
  FakeLb lb;
  deployment::Services services{lb.executor(), approvals, lb.probe(), time,
                                std::make_shared<deployment::CommitCache>()};
  RecordingReporter reporter;

  // `plan` bound to the lines a switch to plan.to would change on the LB as it is now, as
  // plan_switch binds them (config_change.h bound_lines), read unseen by the test's hooks. A plan
  // that binds lines already (plan_switch's) is returned as it is.
  deployment::SwitchPlan bound(deployment::SwitchPlan plan) {
    if (!plan.lines.empty()) return plan;
    plan.lines = lb.executor().unseen([&] {
      const auto store = deployment::store_for(lb.executor(), app);
      const auto snapshot = deployment::read_lb_snapshot(lb.executor(), app, store, {false});
      const auto change = deployment::plan_config_change(app, snapshot, plan.to);
      return change ? deployment::bound_lines({&change.value()}) : std::vector<std::string>{};
    });
    return plan;
  }
};

}  // namespace testing_support
