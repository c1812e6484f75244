#include "app/cli.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace bluegreen::app {
namespace {

using bluegreen::Error;

constexpr std::array<std::string_view, 7> kLogLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};

}  // namespace

bluegreen::Result<CommandLine> parse_command_line(const std::vector<std::string>& args) {
  CommandLine line;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (const auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    const auto take_value = [&]() -> bluegreen::Result<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) return Error{flag + " needs a value (see --help)"};
      return args[++i];
    };
    const auto no_value = [&]() -> bluegreen::Status {
      if (inline_value) return Error{flag + " takes no value"};
      return bluegreen::ok_status();
    };

    if (flag == "check-config" && i == 0) {
      line.check_config = true;
    } else if (flag == "-h" || flag == "--help") {
      if (auto s = no_value(); !s) return s.error();
      line.show_help = true;
    } else if (flag == "-V" || flag == "--version") {
      if (auto s = no_value(); !s) return s.error();
      line.show_version = true;
    } else if (flag == "--enable-test-tools") {
      if (auto s = no_value(); !s) return s.error();
      line.enable_test_tools = true;
    } else if (flag == "--config" || flag == "-c") {
      auto value = take_value();
      if (!value) return value.error();
      if (value->empty()) return Error{"--config needs a file path"};
      line.config_path = *value;
    } else if (flag == "--log-level") {
      auto value = take_value();
      if (!value) return value.error();
      if (std::find(kLogLevels.begin(), kLogLevels.end(), *value) == kLogLevels.end()) {
        return Error{"--log-level must be one of trace, debug, info, warn, error, critical, off (got \"" + *value +
                     "\")"};
      }
      line.log_level = *value;
    } else if (flag == "--log-file") {
      auto value = take_value();
      if (!value) return value.error();
      if (value->empty()) return Error{"--log-file needs a file path"};
      line.log_file = *value;
    } else {
      return Error{"unknown argument \"" + args[i] + "\" (see --help)"};
    }
  }
  if (line.check_config && !line.config_path && !line.show_help) {
    return Error{"check-config needs --config FILE"};
  }
  return line;
}

std::string help_text(const std::string& program) {
  return "Usage: " + program + R"( [OPTIONS]
       )" +
         program + R"( check-config --config FILE

bluegreen-mcp is a Model Context Protocol (MCP) server for blue/green deployments.
An IDE assistant (Claude Desktop, Claude Code, Cursor, Windsurf, VS Code) starts it as a
subprocess and talks JSON-RPC over stdin/stdout; logs go to stderr, never to stdout.

Commands:
  (none)                 serve MCP on stdin/stdout (what an MCP client starts)
  check-config           validate the configuration file, then check every host: SSH reachable
                         with a known host key and working login, health URL answering, HAProxy
                         config readable with exactly one live-backend line, state file sound,
                         HAProxy sockets answering. Prints a table; exit 0 only if all pass.

Options:
  -c, --config FILE      configuration file (JSON; see config/bluegreen.example.json)
      --log-level LEVEL  trace, debug, info, warn, error, critical or off (default: info)
      --log-file FILE    also append logs to FILE
  -h, --help             show this help and exit
  -V, --version          show the version and exit
      --enable-test-tools
                         register the test-only tools (test_echo, test_sleep, test_fail,
                         test_long) used by the project's own protocol tests; not for normal use

Example MCP client entry (Claude Desktop, Cursor, Windsurf):
  { "mcpServers": { "bluegreen": { "command": "/usr/local/bin/bluegreen-mcp",
                                    "args": ["--config", "/etc/bluegreen-mcp/config.json"] } } }

Exit status: 0 when the client closes stdin, 2 for bad arguments or configuration;
check-config: 0 all checks passed, 1 some check failed, 2 invalid configuration.
)";
}

}  // namespace bluegreen::app
