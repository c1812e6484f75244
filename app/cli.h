#pragma once
// Command-line parsing for the bluegreen-mcp binary.
//
// parse_command_line() is pure: it never prints or exits, so every flag combination is unit
// tested. main() decides what to print.

#include "common/result.h"

#include <optional>
#include <string>
#include <vector>

namespace bluegreen::app {

struct CommandLine {
  bool check_config = false;                 // `check-config`: validate the config, check every host, print a table
  bool serve = false;                        // `serve`: MCP over Streamable HTTP instead of stdio
  std::string listen = "127.0.0.1:8931";     // serve --listen HOST:PORT
  std::optional<std::string> tokens_file;    // serve --tokens-file FILE
  std::vector<std::string> allowed_origins;  // serve --allow-origin ORIGIN (repeatable)
  std::vector<std::string> allowed_hosts;    // serve --allow-host NAME (repeatable)
  bool show_help = false;
  bool show_version = false;
  bool enable_test_tools = false;
  std::optional<std::string> config_path;
  std::optional<std::string> log_level;  // spdlog level name
  std::optional<std::string> log_file;
};

bluegreen::Result<CommandLine> parse_command_line(const std::vector<std::string>& args);

std::string help_text(const std::string& program);

}  // namespace bluegreen::app
