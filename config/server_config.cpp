#include "config/server_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <string_view>

namespace config {
namespace {

using bluegreen::Error;
using nlohmann::json;

constexpr std::array<std::string_view, 7> kLogLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};

}  // namespace

bluegreen::Result<ServerConfig> parse_server_config(const std::string& text, const std::string& origin) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    return Error{origin + ": not valid JSON (" + e.what() + ")"};
  }
  if (!document.is_object()) return Error{origin + ": the configuration must be a JSON object"};

  ServerConfig config;
  for (const auto& [key, value] : document.items()) {
    if (key == "logLevel") {
      const bool known = value.is_string() &&
                         std::find(kLogLevels.begin(), kLogLevels.end(), value.get<std::string>()) != kLogLevels.end();
      if (!known) {
        return Error{origin + ": \"logLevel\" must be one of trace, debug, info, warn, error, critical, off"};
      }
      config.log_level = value.get<std::string>();
    } else if (key == "logFile") {
      if (!value.is_string() || value.get<std::string>().empty()) {
        return Error{origin + ": \"logFile\" must be a non-empty path string"};
      }
      config.log_file = value.get<std::string>();
    } else if (key == "$schema" || key == "_comment") {
      // documentation keys are allowed anywhere at the top level
    } else {
      return Error{origin + ": unknown key \"" + key + "\" (known keys: logLevel, logFile)"};
    }
  }
  return config;
}

bluegreen::Result<ServerConfig> load_server_config(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Error{path + ": cannot open the configuration file (check the path given to --config)"};
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Error{path + ": reading the configuration file failed"};
  return parse_server_config(text.str(), path);
}

}  // namespace config
