#include "remote/ssh_config.h"

#include "remote/local_process.h"
#include "remote/ssh_config_origin.h"
#include "remote/ssh_directives.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <pwd.h>
#include <set>
#include <sstream>
#include <unistd.h>
#include <utility>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;

// `ssh -G` output: each line "keyword value", a keyword once per value, in OpenSSH's order.
using OptionLines = std::vector<std::pair<std::string, std::string>>;

OptionLines parse_options(const std::string& text) {
  OptionLines lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto space = line.find(' ');
    if (space == std::string::npos || space == 0) continue;
    std::string keyword = line.substr(0, space);
    std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    lines.emplace_back(std::move(keyword), line.substr(space + 1));
  }
  return lines;
}

std::vector<std::string> values_of(const OptionLines& lines, const std::string& keyword) {
  std::vector<std::string> values;
  for (const auto& [key, value] : lines)
    if (key == keyword) values.push_back(value);
  return values;
}

std::string first_of(const OptionLines& lines, const std::string& keyword) {
  const auto values = values_of(lines, keyword);
  return values.empty() ? std::string() : values.front();
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : separator) + part;
  return out;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator))
    if (!part.empty()) parts.push_back(part);
  return parts;
}

// This process's passwd entry (as OpenSSH uses it for ~, %d and %u). getpwuid_r: thread-safe.
std::pair<std::string, std::string> own_name_and_home() {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(::getuid(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe): read only, never set here
    return {"root", home != nullptr ? home : "/"};
  }
  return {entry.pw_name, entry.pw_dir};
}

std::string local_hostname() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "localhost";
  return name.data();
}

}  // namespace

bluegreen::Result<std::string> expand_ssh_tokens(const std::string& value, const SshDestination& d,
                                                 const std::string& keyword) {
  const auto [local_user, home] = own_name_and_home();
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (i == 0 && c == '~' && (value.size() == 1 || value[1] == '/')) {
      out += home;
    } else if (c == '$' && i + 1 < value.size() && value[i + 1] == '{') {
      const auto close = value.find('}', i);
      if (close == std::string::npos)
        return Error{keyword + " " + value + ": unterminated ${", ErrorCode::kFailedPrecondition};
      const std::string name = value.substr(i + 2, close - i - 2);
      const char* env = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read only, never set here
      if (env == nullptr) {
        return Error{keyword + " " + value + ": environment variable " + name + " is not set",
                     ErrorCode::kFailedPrecondition};
      }
      out += env;
      i = close;
    } else if (c == '%' && i + 1 < value.size()) {
      const char t = value[++i];
      const std::string host_name = local_hostname();
      switch (t) {
        case '%': out += '%'; break;
        case 'd': out += home; break;
        case 'h': out += d.hostname; break;
        case 'i': out += std::to_string(::getuid()); break;
        case 'j': out += join(d.proxy_jump, ","); break;
        case 'k':
        case 'n': out += d.alias; break;
        case 'L': out += host_name.substr(0, host_name.find('.')); break;
        case 'l': out += host_name; break;
        case 'p': out += std::to_string(d.port); break;
        case 'r': out += d.user; break;
        case 'u': out += local_user; break;
        default:
          return Error{keyword + " " + value + ": the token %" + std::string(1, t) +
                           " is not supported by bluegreen-mcp; write the value out",
                       ErrorCode::kFailedPrecondition};
      }
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

struct ParsedDestination {
  std::string host;
  std::optional<std::string> user;
  std::optional<int> port;
};

// The port after a host ("" when there is none: no port); false when it is not a valid port.
bool parse_port(const std::string& text, std::optional<int>& port) {
  port.reset();
  if (text.empty()) return true;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || value < 1 || value > 65535) return false;
  port = static_cast<int>(value);
  return true;
}

// "alias", "user@host", "host:port", "[addr]:port" (how ssh -G prints an address in ProxyJump),
// "ssh://user@host:port" (ssh(1)'s URI form, ProxyJump too).
bluegreen::Result<ParsedDestination> parse_destination(const std::string& destination) {
  ParsedDestination parsed{destination, {}, {}};
  std::string& rest = parsed.host;
  if (rest.rfind("ssh://", 0) == 0) rest.erase(0, 6);
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    parsed.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos || (close + 1 < rest.size() && rest[close + 1] != ':')) {
      return Error{"SSH destination \"" + destination + "\" is not valid: an unterminated [address]",
                   ErrorCode::kInvalidArgument};
    }
    port_text = close + 1 < rest.size() ? rest.substr(close + 2) : "";
    if (close + 2 == rest.size()) port_text = "-";  // "[addr]:" has an empty port
    rest = rest.substr(1, close - 1);
  } else if (const auto colon = rest.rfind(':'); colon != std::string::npos && rest.find(':') == colon) {
    port_text = rest.substr(colon + 1);
    if (port_text.empty()) port_text = "-";
    rest.resize(colon);
  }
  if (!parse_port(port_text, parsed.port)) {
    return Error{"SSH destination \"" + destination + "\": the port must be a number from 1 to 65535",
                 ErrorCode::kInvalidArgument};
  }
  const auto valid_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_' || c == ':';
  };
  const auto valid_user = [](const std::string& user) {
    return !user.empty() && user.front() != '-' &&
           std::all_of(user.begin(), user.end(), [](unsigned char c) { return std::isgraph(c) != 0 && c != '@'; });
  };
  if (rest.empty() || rest.front() == '-' || !std::all_of(rest.begin(), rest.end(), valid_char) ||
      (parsed.user && !valid_user(*parsed.user))) {
    return Error{"SSH destination \"" + destination +
                     "\" is not valid: expected an ssh config alias or [user@]host[:port]",
                 ErrorCode::kInvalidArgument};
  }
  return parsed;
}

// OpenSSH's complaint, without its debug lines: "cfg line 3: Bad configuration option: foo".
std::string openssh_message(const std::string& err) {
  std::string message;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("debug", 0) == 0 || line.rfind("OpenSSH_", 0) == 0 || line.find("Pseudo-terminal") == 0) continue;
    message += (message.empty() ? "" : "; ") + line;
  }
  return message.empty() ? "it gave no reason" : message;
}

// Runs `ssh -G` and returns its options and, with `trace`, where they came from.
bluegreen::Result<std::pair<OptionLines, ConfigTrace>> run_ssh_g(const std::vector<std::string>& extra,
                                                                 const std::string& host,
                                                                 const SshConfigSources& sources) {
  std::vector<std::string> argv{"ssh", "-G", "-vvv"};
  if (sources.config_file) argv.insert(argv.end(), {"-F", *sources.config_file});
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(host);
  auto run = run_local(argv, sources.timeout);
  if (!run) {
    if (run.error().code == ErrorCode::kFailedPrecondition) {
      return Error{run.error().message + "; bluegreen-mcp reads ssh configs with OpenSSH's own client: install it "
                                         "(apt-get install openssh-client)",
                   ErrorCode::kFailedPrecondition};
    }
    return Error{"reading the ssh config with ssh -G: " + run.error().message + " (does a Match exec command hang?)",
                 run.error().code};
  }
  if (run->exit_status != 0) {
    return Error{"OpenSSH rejects the ssh config" + (sources.config_file ? " " + *sources.config_file : std::string()) +
                     ": " + openssh_message(run->err),
                 ErrorCode::kFailedPrecondition};
  }
  return std::pair{parse_options(run->out), parse_trace(run->err)};
}

// OpenSSH's defaults, read once per process: `ssh -G -F /dev/null` for a name no config matches.
bluegreen::Result<OptionLines> openssh_defaults(std::chrono::milliseconds timeout) {
  static std::mutex mutex;
  static std::optional<OptionLines> defaults;
  std::lock_guard lock(mutex);
  if (defaults) return *defaults;
  auto read = run_ssh_g({}, "bluegreen-defaults.invalid", SshConfigSources{std::string("/dev/null"), timeout});
  if (!read) return read.error();
  defaults = std::move(read->first);
  return *defaults;
}

// Keywords whose values come from the destination itself, not from what a config changed.
bool is_per_host(const std::string& keyword) {
  return keyword == "host" || keyword == "hostname" || keyword == "user" || keyword == "port";
}

// Applies the directive table to every option the config changed: refusals become one error.
// Says where a directive was set ("file:line"), or "".
using OriginOf = std::function<std::string(const std::string& keyword)>;

bluegreen::Status check_directives(const OptionLines& options, const OptionLines& defaults, const OriginOf& origin,
                                   const std::string& destination, std::vector<std::string>& notes) {
  std::set<std::string> keywords;
  for (const auto& [keyword, value] : options) keywords.insert(keyword);
  std::vector<std::string> refused;
  for (const auto& keyword : keywords) {
    if (is_per_host(keyword) || values_of(options, keyword) == values_of(defaults, keyword)) continue;
    const DirectiveRule rule = directive_rule(keyword);
    if (rule.use == DirectiveUse::kHonoured || (!rule.same_as.empty() && first_of(options, keyword) == rule.same_as)) {
      continue;
    }
    const std::string where = origin(keyword);
    const std::string named = keyword + " " + first_of(options, keyword) + (where.empty() ? "" : " (" + where + ")");
    if (rule.use == DirectiveUse::kRefused) {
      refused.push_back(named + ": " + std::string(rule.why));
    } else {
      notes.push_back(named + ": " + (rule.use == DirectiveUse::kForced ? "overridden: " : "ignored: ") +
                      std::string(rule.why));
    }
  }
  if (refused.empty()) return bluegreen::ok_status();
  return Error{"ssh " + destination +
                   ": the ssh config sets what bluegreen-mcp cannot honour, so it does not "
                   "connect rather than connect another way than ssh would: " +
                   join(refused, "; "),
               ErrorCode::kFailedPrecondition};
}

// The options libssh is given as they are, when the config changed them.
constexpr std::array kAlgorithmKeywords{"ciphers", "macs", "kexalgorithms", "hostkeyalgorithms",
                                        "pubkeyacceptedalgorithms"};

bluegreen::Status fill_keys(SshDestination& d, const OptionLines& options, const OptionLines& defaults) {
  const auto files = values_of(options, "identityfile");
  d.identity_files_configured = files != values_of(defaults, "identityfile");
  for (const auto& file : files) {
    auto expanded = expand_ssh_tokens(file, d, "IdentityFile");
    if (!expanded) return expanded.error();
    d.identity_files.push_back(std::move(expanded.value()));
  }
  d.identities_only = first_of(options, "identitiesonly") == "yes";
  const std::string agent = first_of(options, "identityagent");
  if (agent == "none") {
    d.agent = AgentSource::kNone;
  } else if (!agent.empty() && agent != "SSH_AUTH_SOCK") {
    auto expanded = expand_ssh_tokens(agent, d, "IdentityAgent");
    if (!expanded) return expanded.error();
    d.agent = AgentSource::kPath;
    d.agent_path = std::move(expanded.value());
  }
  d.user_known_hosts_files = split(first_of(options, "userknownhostsfile"), ' ');
  d.global_known_hosts_files = split(first_of(options, "globalknownhostsfile"), ' ');
  for (auto* list : {&d.user_known_hosts_files, &d.global_known_hosts_files}) {
    for (auto& file : *list) {
      auto expanded = expand_ssh_tokens(file, d, "UserKnownHostsFile");
      if (!expanded) return expanded.error();
      file = std::move(expanded.value());
    }
  }
  return bluegreen::ok_status();
}

bluegreen::Status fill_route(SshDestination& d, const OptionLines& options, const OptionLines& defaults) {
  const std::string port = first_of(options, "port");
  d.hostname = first_of(options, "hostname");
  d.user = first_of(options, "user");
  d.port = port.empty() ? 22 : std::stoi(port);
  if (const std::string timeout = first_of(options, "connecttimeout");
      !timeout.empty() && timeout != "none" && timeout != "0") {
    d.connect_timeout = std::chrono::seconds(std::stol(timeout));
  }
  if (const std::string alive = first_of(options, "serveraliveinterval"); !alive.empty()) {
    d.server_alive_interval = std::chrono::seconds(std::stol(alive));
  }
  if (const std::string count = first_of(options, "serveralivecountmax"); !count.empty()) {
    d.server_alive_count_max = std::stoi(count);
  }
  if (const std::string jump = first_of(options, "proxyjump"); !jump.empty() && jump != "none") {
    d.proxy_jump = split(jump, ',');
  }
  if (const std::string command = first_of(options, "proxycommand"); command != "none" && !command.empty()) {
    d.proxy_command = command;
    d.notes.push_back("proxycommand " + command +
                      ": the hops this command makes are checked by it, not by bluegreen-mcp (an ssh it runs "
                      "directly gets -o BatchMode=yes -o StrictHostKeyChecking=yes; one it starts in turn does not); "
                      "ProxyJump keeps every hop's host key check in bluegreen-mcp");
  }
  for (const char* keyword : kAlgorithmKeywords) {
    if (first_of(options, keyword) != first_of(defaults, keyword)) d.algorithms[keyword] = first_of(options, keyword);
  }
  return bluegreen::ok_status();
}

}  // namespace

std::string SshDestination::describe() const { return user + "@" + hostname + ":" + std::to_string(port); }

bluegreen::Status check_ssh_destination(const std::string& destination) {
  auto parsed = parse_destination(destination);
  if (!parsed) return parsed.error();
  return bluegreen::ok_status();
}

bluegreen::Result<SshDestination> resolve_ssh_destination(const std::string& destination,
                                                          const SshConfigSources& sources) {
  auto parsed = parse_destination(destination);
  if (!parsed) return parsed.error();
  auto defaults = openssh_defaults(sources.timeout);
  if (!defaults) return defaults.error();
  std::vector<std::string> extra;
  if (parsed->user) extra.insert(extra.end(), {"-l", *parsed->user});
  if (parsed->port) extra.insert(extra.end(), {"-p", std::to_string(*parsed->port)});
  auto read = run_ssh_g(extra, parsed->host, sources);
  if (!read) return Error{"ssh " + destination + ": " + read.error().message, read.error().code};
  const OptionLines& options = read->first;
  const ConfigTrace& trace = read->second;

  SshDestination resolved;
  resolved.alias = parsed->host;
  const std::string home = own_name_and_home().second;
  const std::vector<std::string> top_files =
      sources.config_file ? std::vector<std::string>{*sources.config_file}
                          : std::vector<std::string>{home + "/.ssh/config", "/etc/ssh/ssh_config"};
  const OriginOf origin = [&](const std::string& keyword) {
    return origin_of(trace, top_files, /*first_is_user_file=*/true, home, keyword);
  };
  if (auto status = check_directives(options, defaults.value(), origin, destination, resolved.notes); !status) {
    return status.error();
  }
  if (auto status = fill_route(resolved, options, defaults.value()); !status) return status.error();
  if (auto status = fill_keys(resolved, options, defaults.value()); !status) {
    return Error{"ssh " + destination + ": " + status.error().message, status.error().code};
  }
  return resolved;
}

bluegreen::Result<SshDestination> SshConfigResolver::resolve(const std::string& destination) {
  {
    std::lock_guard lock(mutex_);
    if (const auto found = cache_.find(destination); found != cache_.end()) return found->second;
  }
  auto resolved = resolve_ssh_destination(destination, sources_);
  if (!resolved) return resolved.error();
  std::lock_guard lock(mutex_);
  return cache_.emplace(destination, std::move(resolved.value())).first->second;
}

}  // namespace bluegreen::remote
