#include "app/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

namespace bluegreen::app {

bluegreen::Status configure_logging(const std::string& level, const std::optional<std::string>& log_file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (log_file) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(*log_file, /*truncate=*/false));
    } catch (const spdlog::spdlog_ex& e) {
      return bluegreen::Error{"cannot open log file " + *log_file + ": " + e.what()};
    }
  }
  auto logger = std::make_shared<spdlog::logger>("bluegreen-mcp", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return bluegreen::ok_status();
}

}  // namespace bluegreen::app
