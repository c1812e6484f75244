#include "remote/ssh_config.h"

#include "remote/local_process.h"
#include "remote/ssh_directives.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
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

// What `ssh -G -vvv` says about where the options came from.
struct ConfigTrace {
  std::vector<std::string> files;                       // "Reading configuration data FILE", in order
  std::set<std::pair<std::string, int>> active_blocks;  // Host/Match lines that applied (file, line)
};

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

// "FILE line N: ..." after a "debugN: " prefix: the file and line, or nullopt.
std::optional<std::pair<std::string, int>> file_line(const std::string& text) {
  const auto marker = text.find(" line ");
  if (marker == std::string::npos) return std::nullopt;
  const auto colon = text.find(':', marker);
  if (colon == std::string::npos) return std::nullopt;
  const std::string number = text.substr(marker + 6, colon - marker - 6);
  if (number.empty() || !std::all_of(number.begin(), number.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  return std::pair{text.substr(0, marker), std::stoi(number)};
}

ConfigTrace parse_trace(const std::string& text) {
  ConfigTrace trace;
  std::istringstream in(text);
  std::optional<std::pair<std::string, int>> match_line;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // OpenSSH ends stderr lines with CR LF
    const auto colon = line.find(": ");
    if (line.rfind("debug", 0) != 0 || colon == std::string::npos) continue;
    const std::string message = line.substr(colon + 2);
    if (message.rfind("Reading configuration data ", 0) == 0) {
      trace.files.push_back(message.substr(27));
    } else if (message.find(": Applying options for ") != std::string::npos) {
      if (auto where = file_line(message)) trace.active_blocks.insert(*where);
    } else if (message.rfind("checking match for ", 0) == 0) {
      match_line.reset();
    } else if (message.find(" matched ") != std::string::npos || message.find(" skipped ") != std::string::npos) {
      if (auto where = file_line(message)) match_line = where;
    } else if (message == "match found" && match_line) {
      trace.active_blocks.insert(*match_line);
    }
  }
  return trace;
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

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The first line of the active parts of the config files that sets `keyword`: "file:line".
// Empty when it cannot be told (the option then came from a default or the command line).
std::string origin_of(const ConfigTrace& trace, const std::string& keyword) {
  for (const auto& file : trace.files) {
    std::ifstream in(file);
    bool active = true;  // the lines before the first Host or Match apply to every host
    int number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      const auto begin = line.find_first_not_of(" \t");
      if (begin == std::string::npos || line[begin] == '#') continue;
      const auto end = line.find_first_of(" \t=", begin);
      const std::string word = lower(line.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
      if (word == "host" || word == "match") {
        active = trace.active_blocks.count({file, number}) != 0;
      } else if (active && word == keyword) {
        return file + ":" + std::to_string(number);
      }
    }
  }
  return {};
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

bluegreen::Result<ParsedDestination> parse_destination(const std::string& destination) {
  ParsedDestination parsed{destination, {}, {}};
  std::string& rest = parsed.host;
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    parsed.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string::npos && rest.find(':') == colon) {
    const std::string port_text = rest.substr(colon + 1);
    char* end = nullptr;
    const long value = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || value < 1 || value > 65535) {
      return Error{"SSH destination \"" + destination + "\": the port must be a number from 1 to 65535",
                   ErrorCode::kInvalidArgument};
    }
    parsed.port = static_cast<int>(value);
    rest.resize(colon);
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
bluegreen::Status check_directives(const OptionLines& options, const OptionLines& defaults, const ConfigTrace& trace,
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
    const std::string where = origin_of(trace, keyword);
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
  if (const std::string timeout = first_of(options, "connecttimeout"); !timeout.empty() && timeout != "none") {
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
  if (const std::string command = first_of(options, "proxycommand"); command != "none") d.proxy_command = command;
  for (const char* keyword : kAlgorithmKeywords) {
    if (first_of(options, keyword) != first_of(defaults, keyword)) d.algorithms[keyword] = first_of(options, keyword);
  }
  return bluegreen::ok_status();
}

}  // namespace

std::string SshDestination::describe() const { return user + "@" + hostname + ":" + std::to_string(port); }

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
  const auto& [options, trace] = read.value();

  SshDestination resolved;
  resolved.alias = parsed->host;
  if (auto status = check_directives(options, defaults.value(), trace, destination, resolved.notes); !status) {
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
