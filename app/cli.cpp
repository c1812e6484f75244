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
    } else if (flag == "serve" && i == 0) {
      line.serve = true;
    } else if (line.serve &&
               (flag == "--listen" || flag == "--tokens-file" || flag == "--allow-origin" || flag == "--allow-host")) {
      auto value = take_value();
      if (!value) return value.error();
      if (value->empty()) return Error{flag + " needs a value (see --help)"};
      if (flag == "--listen") line.listen = *value;
      if (flag == "--tokens-file") line.tokens_file = *value;
      if (flag == "--allow-origin") line.allowed_origins.push_back(*value);
      if (flag == "--allow-host") line.allowed_hosts.push_back(*value);
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
    } else if (flag == "--listen" || flag == "--tokens-file" || flag == "--allow-origin" || flag == "--allow-host") {
      return Error{flag + " is an option of the serve command: bluegreen-mcp serve " + flag + " ... (see --help)"};
    } else {
      return Error{"unknown argument \"" + args[i] + "\" (see --help)"};
    }
  }
  if (line.serve && line.check_config) return Error{"serve and check-config are separate commands"};
  if (line.check_config && !line.config_path && !line.show_help) {
    return Error{"check-config needs --config FILE"};
  }
  return line;
}

std::string help_text(const std::string& program) {
  return "Usage: " + program + R"( [OPTIONS]
       )" +
         program + R"( serve [--listen HOST:PORT] [--tokens-file FILE] [OPTIONS]
       )" +
         program + R"( check-config --config FILE

bluegreen-mcp is a Model Context Protocol (MCP) server for blue/green deployments.
An IDE assistant (Claude Desktop, Claude Code, Cursor, Windsurf, VS Code) starts it as a
subprocess and talks JSON-RPC over stdin/stdout; logs go to stderr, never to stdout.

Commands:
  (none)                 serve MCP on stdin/stdout (what an MCP client starts)
  serve                  serve MCP over Streamable HTTP at http://HOST:PORT/mcp, one session per
                         client, until SIGTERM or SIGINT: a shared server next to the load balancer
  check-config           validate the configuration file, then check every host: SSH reachable
                         with a known host key and working login, health URL answering, HAProxy
                         config readable with exactly one live-backend line, state file sound,
                         HAProxy sockets answering. Prints a table; exit 0 only if all pass.

Options:
  -c, --config FILE      configuration file (JSON; see config/bluegreen.example.json)
      --log-level LEVEL  trace, debug, info, warn, error, critical or off (default: info)
      --log-file FILE    also append logs to FILE
      --listen HOST:PORT serve: the address to listen on (default 127.0.0.1:8931; [::1]:PORT for
                         IPv6; port 0 picks a free one). A non-loopback address needs --tokens-file
      --tokens-file FILE serve: accept only requests with "Authorization: Bearer TOKEN" for a token
                         whose SHA-256 is a line of FILE (mode 600); add one with
                         printf %s "$TOKEN" | sha256sum >> FILE
      --allow-origin ORIGIN
                         serve: also accept requests from this browser Origin (exactly, e.g.
                         https://ide.example.com); loopback origins and none are always accepted
      --allow-host NAME  serve: also accept this name in the Host header (e.g. what a reverse proxy
                         forwards); loopback names and the --listen address are always accepted
  -h, --help             show this help and exit
  -V, --version          show the version and exit
      --enable-test-tools
                         register the test-only tools (test_echo, test_sleep, test_fail,
                         test_long) used by the project's own protocol tests; not for normal use

Example MCP client entry (Claude Desktop, Cursor, Windsurf):
  { "mcpServers": { "bluegreen": { "command": "/usr/local/bin/bluegreen-mcp",
                                    "args": ["--config", "/etc/bluegreen-mcp/config.json"] } } }

Example for HTTP clients (VS Code "type": "http", Claude Code --transport http):
  bluegreen-mcp serve --config /etc/bluegreen-mcp/config.json --listen 127.0.0.1:8931
  then connect to http://127.0.0.1:8931/mcp

Exit status: 0 when the client closes stdin (serve: on SIGTERM or SIGINT), 1 when serve cannot
listen, 2 for bad arguments or configuration;
check-config: 0 all checks passed, 1 some check failed, 2 invalid configuration.
)";
}

}  // namespace bluegreen::app
