#include "deployment/step_progress.h"

namespace bluegreen::deployment {

StepProgress::StepProgress(Reporter& reporter, std::vector<std::string> names)
    : reporter_(reporter), names_(std::move(names)) {}

std::string StepProgress::label(std::size_t index, const std::string& detail) const {
  return "step " + std::to_string(index + 1) + "/" + std::to_string(names_.size()) + ": " + names_.at(index) + detail;
}

void StepProgress::begin(std::size_t index, const std::string& detail) {
  const std::string text = label(index, detail);
  reporter_.step(static_cast<double>(index + 1), static_cast<double>(names_.size()), text);
}

}  // namespace bluegreen::deployment
