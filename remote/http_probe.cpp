#include "remote/http_probe.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <future>

namespace bluegreen::remote {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

struct SplitUrl {
  std::string origin;  // scheme://host:port
  std::string path;
};

std::optional<SplitUrl> split_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return std::nullopt;
  const auto path_start = url.find('/', scheme_end + 3);
  if (path_start == scheme_end + 3) return std::nullopt;  // no host
  SplitUrl split;
  split.origin = url.substr(0, path_start);
  split.path = path_start == std::string::npos ? "/" : url.substr(path_start);
  return split;
}

std::optional<std::string> string_field(const nlohmann::json& body, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const auto it = body.find(name);
    if (it != body.end() && it->is_string()) return it->get<std::string>();
    if (it != body.end() && it->is_number()) return it->dump();
  }
  return std::nullopt;
}

}  // namespace

std::string HealthReport::summary() const {
  const std::string took = std::to_string(latency.count()) + " ms";
  if (status == 0) return "no response after " + took + ": " + error;
  std::string text = "HTTP " + std::to_string(status) + " in " + took;
  if (version) text += ", version " + *version;
  if (commit) text += ", commit " + commit->substr(0, 12);
  return text;
}

HealthReport probe_health(const std::string& url, milliseconds deadline) {
  HealthReport report;
  report.url = url;
  const auto split = split_url(url);
  if (!split) {
    report.error = "not an http:// or https:// URL";
    return report;
  }
  const auto started = Clock::now();
  httplib::Client client(split->origin);
  const auto seconds = static_cast<time_t>(deadline.count() / 1000);
  const auto micros = static_cast<time_t>((deadline.count() % 1000) * 1000);
  client.set_connection_timeout(seconds, micros);
  client.set_read_timeout(seconds, micros);
  client.set_write_timeout(seconds, micros);
  client.set_keep_alive(false);

  const auto response = client.Get(split->path);
  report.latency = duration_cast<milliseconds>(Clock::now() - started);
  if (!response) {
    report.error = httplib::to_string(response.error());
    return report;
  }
  report.status = response->status;
  report.body_excerpt = response->body.substr(0, 200);
  const auto body = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    report.version = string_field(body, {"version", "appVersion"});
    report.commit = string_field(body, {"commit", "sha", "revision", "gitCommit"});
    report.color = string_field(body, {"color", "colour"});
  }
  return report;
}

std::vector<HealthReport> probe_all(const std::vector<std::string>& urls, milliseconds deadline) {
  std::vector<std::future<HealthReport>> pending;
  pending.reserve(urls.size());
  for (const auto& url : urls) pending.push_back(std::async(std::launch::async, probe_health, url, deadline));
  std::vector<HealthReport> reports;
  reports.reserve(urls.size());
  for (auto& p : pending) reports.push_back(p.get());
  return reports;
}

}  // namespace bluegreen::remote
