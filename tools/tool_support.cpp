#include "tools/tool_support.h"

namespace bluegreen::tools {

nlohmann::json app_argument_schema(const config::Config& config) {
  std::string names;
  for (const auto& app : config.apps) names += (names.empty() ? "" : ", ") + app.name;
  return {{"type", "string"},
          {"pattern", "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
          {"description", "Which app (configured: " + (names.empty() ? std::string("none") : names) +
                              "). Optional when only one app is configured."}};
}

bluegreen::Result<const config::AppConfig*> resolve_app(const config::Config& config, const nlohmann::json& arguments) {
  return config.find_app(arguments.value("app", std::string()));
}

}  // namespace bluegreen::tools
