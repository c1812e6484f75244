#include "deployment/step_progress.h"

namespace bluegreen::deployment {

StepProgress::StepProgress(Reporter& reporter, std::vector<std::string> names)
    : reporter_(reporter), names_(std::move(names)) {}

void StepProgress::begin(std::size_t index, const std::string& detail) {
  const std::string& name = names_.at(index);
  reporter_.step(static_cast<double>(index + 1), static_cast<double>(names_.size()),
                 "step " + std::to_string(index + 1) + "/" + std::to_string(names_.size()) + ": " + name + detail);
}

}  // namespace bluegreen::deployment
