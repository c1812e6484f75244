#include "state/deployment_state.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace bluegreen::state {
namespace {

using bluegreen::Error;
using nlohmann::json;

constexpr std::array<std::string_view, 7> kKnownTopLevel{"prod",    "standby",    "lastSwitch", "switchCount",
                                                         "history", "generation", "deploys"};
constexpr std::array<std::string_view, 4> kKnownHistory{"timestamp", "from", "to", "emergency"};
constexpr std::array<std::string_view, 5> kKnownDeploy{"timestamp", "color", "ref", "commit", "outcome"};

template <std::size_t N>
bool is_known(const std::array<std::string_view, N>& names, std::string_view key) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

bluegreen::Result<Color> color_field(const json& object, const std::string& field, const std::string& where) {
  const auto it = object.find(field);
  if (it == object.end()) return Error{where + field + ": missing (expected \"blue\" or \"green\")"};
  if (!it->is_string()) return Error{where + field + ": expected \"blue\" or \"green\", got " + it->dump()};
  const auto color = parse_color(it->get<std::string>());
  if (!color) return Error{where + field + ": expected \"blue\" or \"green\", got " + it->dump()};
  return *color;
}

bluegreen::Result<SwitchRecord> parse_history_entry(const json& entry, std::size_t index) {
  const std::string where = "history[" + std::to_string(index) + "].";
  if (!entry.is_object()) return Error{"history[" + std::to_string(index) + "]: expected an object"};
  SwitchRecord record;
  const auto timestamp = entry.find("timestamp");
  if (timestamp == entry.end() || !timestamp->is_string()) return Error{where + "timestamp: expected a string"};
  record.timestamp = timestamp->get<std::string>();
  auto from = color_field(entry, "from", where);
  if (!from) return from.error();
  auto to = color_field(entry, "to", where);
  if (!to) return to.error();
  record.from = *from;
  record.to = *to;
  if (const auto emergency = entry.find("emergency"); emergency != entry.end()) {
    if (!emergency->is_boolean()) return Error{where + "emergency: expected true or false"};
    record.emergency = emergency->get<bool>();
  }
  for (const auto& [key, value] : entry.items()) {
    if (!is_known(kKnownHistory, key)) record.extra[key] = value;
  }
  return record;
}

bluegreen::Result<DeployRecord> parse_deploy_entry(const json& entry, std::size_t index) {
  const std::string where = "deploys[" + std::to_string(index) + "].";
  if (!entry.is_object()) return Error{"deploys[" + std::to_string(index) + "]: expected an object"};
  DeployRecord record;
  for (const auto* field : {"timestamp", "ref", "commit", "outcome"}) {
    const auto it = entry.find(field);
    if (it == entry.end() || !it->is_string()) return Error{where + field + ": expected a string"};
  }
  auto color = color_field(entry, "color", where);
  if (!color) return color.error();
  record.timestamp = entry["timestamp"].get<std::string>();
  record.color = *color;
  record.ref = entry["ref"].get<std::string>();
  record.commit = entry["commit"].get<std::string>();
  record.outcome = entry["outcome"].get<std::string>();
  for (const auto& [key, value] : entry.items()) {
    if (!is_known(kKnownDeploy, key)) record.extra[key] = value;
  }
  return record;
}

}  // namespace

std::optional<Color> parse_color(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "blue") return Color::kBlue;
  if (lower == "green") return Color::kGreen;
  return std::nullopt;
}

std::string_view to_string(Color color) { return color == Color::kBlue ? "blue" : "green"; }
std::string to_upper_string(Color color) { return color == Color::kBlue ? "BLUE" : "GREEN"; }

bluegreen::Result<DeploymentState> parse_state(std::string_view text) {
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Error{"the state file is not valid JSON (truncated or corrupt)"};
  if (!document.is_object()) return Error{"the state file must hold a JSON object"};

  DeploymentState state;
  auto prod = color_field(document, "prod", "");
  if (!prod) return prod.error();
  auto standby = color_field(document, "standby", "");
  if (!standby) return standby.error();
  if (*standby == *prod) {
    return Error{"prod and standby are both \"" + std::string(to_string(*prod)) +
                 "\"; one must be blue, the other green"};
  }
  state.prod = *prod;

  if (const auto last = document.find("lastSwitch"); last != document.end() && !last->is_null()) {
    if (!last->is_string()) return Error{"lastSwitch: expected a timestamp string or null"};
    state.last_switch = last->get<std::string>();
  }
  if (const auto count = document.find("switchCount"); count != document.end()) {
    if (!count->is_number_integer() || count->get<std::int64_t>() < 0) {
      return Error{"switchCount: expected a non-negative integer, got " + count->dump()};
    }
    state.switch_count = count->get<std::int64_t>();
  }
  if (const auto generation = document.find("generation"); generation != document.end()) {
    if (!generation->is_number_unsigned()) {
      return Error{"generation: expected a non-negative integer, got " + generation->dump()};
    }
    state.generation = generation->get<std::uint64_t>();
  }
  if (const auto history = document.find("history"); history != document.end()) {
    if (!history->is_array()) return Error{"history: expected an array"};
    for (std::size_t i = 0; i < history->size(); ++i) {
      auto record = parse_history_entry((*history)[i], i);
      if (!record) return record.error();
      state.history.push_back(std::move(record.value()));
    }
  }
  if (const auto deploys = document.find("deploys"); deploys != document.end()) {
    if (!deploys->is_array()) return Error{"deploys: expected an array"};
    for (std::size_t i = 0; i < deploys->size(); ++i) {
      auto record = parse_deploy_entry((*deploys)[i], i);
      if (!record) return record.error();
      state.deploys.push_back(std::move(record.value()));
    }
  }
  for (const auto& [key, value] : document.items()) {
    if (!is_known(kKnownTopLevel, key)) state.extra[key] = value;
  }
  return state;
}

void DeploymentState::trim(std::size_t limit) {
  if (history.size() > limit) history.erase(history.begin(), history.end() - static_cast<std::ptrdiff_t>(limit));
  if (deploys.size() > limit) deploys.erase(deploys.begin(), deploys.end() - static_cast<std::ptrdiff_t>(limit));
}

std::string serialize_state(const DeploymentState& state) {
  json document = json::object();
  document["prod"] = to_string(state.prod);
  document["standby"] = to_string(state.standby());
  document["lastSwitch"] = state.last_switch ? json(*state.last_switch) : json(nullptr);
  document["switchCount"] = state.switch_count;
  json history = json::array();
  for (const auto& record : state.history) {
    json entry = record.extra;
    entry["timestamp"] = record.timestamp;
    entry["from"] = to_string(record.from);
    entry["to"] = to_string(record.to);
    if (record.emergency) entry["emergency"] = true;
    history.push_back(std::move(entry));
  }
  document["history"] = std::move(history);
  if (!state.deploys.empty()) {
    json deploys = json::array();
    for (const auto& record : state.deploys) {
      json entry = record.extra;
      entry["timestamp"] = record.timestamp;
      entry["color"] = to_string(record.color);
      entry["ref"] = record.ref;
      entry["commit"] = record.commit;
      entry["outcome"] = record.outcome;
      deploys.push_back(std::move(entry));
    }
    document["deploys"] = std::move(deploys);
  }
  document["generation"] = state.generation;
  for (const auto& [key, value] : state.extra.items()) document[key] = value;
  return document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace bluegreen::state
