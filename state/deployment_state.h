#pragma once
// The deployment state record kept on the load balancer, in the seed's JSON format:
//   { "prod": "blue", "standby": "green", "lastSwitch": "...", "switchCount": 5,
//     "history": [ { "timestamp": "...", "from": "green", "to": "blue" } ] }
// Files written by the Node.js server this replaces must keep working, so parsing accepts exactly
// that shape, and fields this version does not know (at the top level and in history entries)
// are carried through unchanged on rewrite. New fields are additive: "generation" counts writes so
// a plan can detect that the state changed under it.
//
// A file that does not fit the format is an error naming the field, never silently "fixed".
//
// Thread-safety: value types and pure functions.

#include "common/result.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::state {

enum class Color { kBlue, kGreen };

std::optional<Color> parse_color(std::string_view name);  // "blue"/"green", any letter case
std::string_view to_string(Color color);                  // "blue" / "green"
std::string to_upper_string(Color color);                 // "BLUE" / "GREEN"
constexpr Color other(Color color) { return color == Color::kBlue ? Color::kGreen : Color::kBlue; }

struct SwitchRecord {
  std::string timestamp;  // ISO 8601, as written
  Color from = Color::kBlue;
  Color to = Color::kGreen;
  bool emergency = false;                           // written only when true
  nlohmann::json extra = nlohmann::json::object();  // fields this version does not interpret (e.g. "client")
};

// One deploy_to_standby run ("deploys" in the file; additive to the seed's format).
struct DeployRecord {
  std::string timestamp;
  Color color = Color::kGreen;
  std::string ref;
  std::string commit;                               // empty when the deploy failed before it was known
  std::string outcome;                              // "ok", "failed", "cancelled"
  nlohmann::json extra = nlohmann::json::object();  // client, failedStep, durationMs, ...
};

struct DeploymentState {
  Color prod = Color::kBlue;
  std::optional<std::string> last_switch;
  std::int64_t switch_count = 0;
  std::vector<SwitchRecord> history;  // oldest first, as the seed appends
  std::vector<DeployRecord> deploys;  // oldest first
  std::uint64_t generation = 0;
  nlohmann::json extra = nlohmann::json::object();

  [[nodiscard]] Color standby() const { return other(prod); }
  // Drops the oldest history and deploy entries beyond `limit` each.
  void trim(std::size_t limit);
};

// Parses the file's text. Errors name the field and say what is expected.
bluegreen::Result<DeploymentState> parse_state(std::string_view text);

// The file's text: pretty-printed JSON (2-space indent, as the seed's script writes), newline-terminated.
std::string serialize_state(const DeploymentState& state);

}  // namespace bluegreen::state
