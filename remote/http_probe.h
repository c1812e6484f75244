#pragma once
// HTTP health probes (cpp-httplib): GET a health URL with a deadline and report what came back.
//
// Thread-safety: free functions; probe_all runs its probes on parallel threads.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::remote {

struct HealthReport {
  std::string url;
  int status = 0;                        // HTTP status; 0 when no response arrived
  std::chrono::milliseconds latency{0};  // time to the complete response (or to the failure)
  std::optional<std::string> version;    // "version" from a JSON body
  std::optional<std::string> commit;     // "commit" / "sha" / "revision" from a JSON body
  std::optional<std::string> color;      // "color" / "colour" from a JSON body (blue/green apps)
  std::string body_excerpt;              // the first bytes of the body, for messages
  std::string error;                     // why there is no response, if there is none

  [[nodiscard]] bool healthy() const { return status >= 200 && status < 300; }
  // One line for the user: "200 OK in 3 ms (version 1.2.0)", "no response: connection refused".
  [[nodiscard]] std::string summary() const;
};

// `url` is http://host[:port]/path (https:// also works). The deadline bounds connecting and
// each read/write.
HealthReport probe_health(const std::string& url, std::chrono::milliseconds deadline);

// Probes all URLs at once; results are in the order of `urls`.
std::vector<HealthReport> probe_all(const std::vector<std::string>& urls, std::chrono::milliseconds deadline);

}  // namespace bluegreen::remote
