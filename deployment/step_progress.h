#pragma once
// The steps of a long operation, named once in a list; progress lines ("step 3/6: reloading
// HAProxy") take their number and total from the list, so adding or removing a step cannot leave
// a stale count behind.
//
// Thread-safety: not thread-safe; one operation's thread uses it.

#include "deployment/services.h"

#include <cstddef>
#include <string>
#include <vector>

namespace bluegreen::deployment {

class StepProgress {
 public:
  // `names`: the steps in order (copied); `reporter` hears each start and must outlive this object.
  StepProgress(Reporter& reporter, std::vector<std::string> names);

  // Reports the start of step `index` (0-based; must be < size(), else std::out_of_range, a bug)
  // as progress index+1 of size() with the message "step <index+1>/<size()>: <name><detail>".
  void begin(std::size_t index, const std::string& detail = "");

  // The same text begin() reports: "step <index+1>/<size()>: <name><detail>" (std::out_of_range
  // for an index past the end).
  [[nodiscard]] std::string label(std::size_t index, const std::string& detail = "") const;

  [[nodiscard]] std::size_t size() const { return names_.size(); }

 private:
  Reporter& reporter_;
  std::vector<std::string> names_;
};

}  // namespace bluegreen::deployment
