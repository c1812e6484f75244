#include "remote/ssh_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fnmatch.h>
#include <fstream>
#include <glob.h>
#include <mutex>
#include <pwd.h>
#include <unistd.h>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;

constexpr int kMaxIncludeDepth = 8;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Splits a config line into keyword and arguments: whitespace or one '=' separates the keyword;
// double quotes group an argument.
std::vector<std::string> tokenize(const std::string& line) {
  std::vector<std::string> tokens;
  std::string current;
  bool in_quotes = false;
  bool have_token = false;
  for (const char c : line) {
    if (c == '"') {
      in_quotes = !in_quotes;
      have_token = true;
    } else if (!in_quotes && (std::isspace(static_cast<unsigned char>(c)) != 0 || (c == '=' && tokens.empty()))) {
      if (have_token) tokens.push_back(current);
      current.clear();
      have_token = false;
    } else if (!in_quotes && c == '#' && !have_token) {
      break;
    } else {
      current += c;
      have_token = true;
    }
  }
  if (have_token) tokens.push_back(current);
  return tokens;
}

struct Resolver {
  const std::string& alias;
  const SshConfigSources& sources;
  std::optional<std::string> hostname;
  std::optional<std::string> user;
  std::optional<int> port;
  std::vector<std::string> identity_files;
  std::optional<bool> identities_only;
  std::optional<std::string> known_hosts_file;
  std::vector<std::string> warnings;
  std::optional<std::string> error;

  std::string expand(const std::string& value) const {
    std::string out;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (i == 0 && value[i] == '~' && (value.size() == 1 || value[1] == '/')) {
        out += sources.home;
      } else if (value[i] == '%' && i + 1 < value.size()) {
        const char t = value[++i];
        if (t == '%') out += '%';
        else if (t == 'd') out += sources.home;
        else if (t == 'h') out += hostname.value_or(alias);
        else if (t == 'n') out += alias;
        else if (t == 'u') out += sources.local_user;
        else if (t == 'r') out += user.value_or(sources.local_user);
        else if (t == 'p') out += std::to_string(port.value_or(22));
        else out += std::string("%") + t;  // unknown token: keep it visible
      } else {
        out += value[i];
      }
    }
    return out;
  }

  void read_file(const std::string& path, int depth, bool user_file) {
    std::ifstream file(path);
    if (!file) return;
    bool active = true;  // lines before the first Host apply to every host
    int line_number = 0;
    for (std::string line; std::getline(file, line);) {
      ++line_number;
      const auto tokens = tokenize(line);
      if (tokens.empty()) continue;
      const std::string keyword = lower(tokens[0]);
      const std::vector<std::string> args(tokens.begin() + 1, tokens.end());
      const std::string where = path + ":" + std::to_string(line_number);
      if (keyword == "host") {
        active = ssh_host_matches(alias, args);
        continue;
      }
      if (keyword == "match") {
        warnings.push_back(where + ": Match blocks are not supported; the block is ignored");
        active = false;
        continue;
      }
      if (!active) continue;
      if (keyword == "include") {
        include(args, depth, user_file, where);
        continue;
      }
      if (args.empty()) continue;
      apply(keyword, args, where);
      if (error) return;
    }
  }

  void include(const std::vector<std::string>& patterns, int depth, bool user_file, const std::string& where) {
    if (depth >= kMaxIncludeDepth) {
      warnings.push_back(where + ": Include nested too deeply; ignored");
      return;
    }
    for (const auto& raw : patterns) {
      std::string pattern = expand(raw);
      if (pattern.empty() || pattern.front() != '/') {
        pattern = (user_file ? sources.home + "/.ssh/" : std::string("/etc/ssh/")) + pattern;
      }
      glob_t matches{};
      // glob(3) is MT-Unsafe (it may read the environment and the user database): one at a time.
      static std::mutex glob_mutex;
      std::lock_guard glob_lock(glob_mutex);
      if (::glob(pattern.c_str(), 0, nullptr, &matches) == 0) {  // NOLINT(concurrency-mt-unsafe): serialised above
        for (std::size_t i = 0; i < matches.gl_pathc; ++i) read_file(matches.gl_pathv[i], depth + 1, user_file);
      }
      ::globfree(&matches);
    }
  }

  void apply(const std::string& keyword, const std::vector<std::string>& args, const std::string& where) {
    if (keyword == "hostname") {
      if (!hostname) hostname = expand(args[0]);
    } else if (keyword == "user") {
      if (!user) user = args[0];
    } else if (keyword == "port") {
      if (port) return;
      char* end = nullptr;
      const long value = std::strtol(args[0].c_str(), &end, 10);
      if (end == args[0].c_str() || *end != '\0' || value < 1 || value > 65535) {
        error = where + ": Port must be a number from 1 to 65535, got \"" + args[0] + "\"";
        return;
      }
      port = static_cast<int>(value);
    } else if (keyword == "identityfile") {
      identity_files.push_back(expand(args[0]));
    } else if (keyword == "identitiesonly") {
      if (!identities_only) identities_only = lower(args[0]) == "yes";
    } else if (keyword == "userknownhostsfile") {
      if (!known_hosts_file) known_hosts_file = expand(args[0]);  // libssh reads one file: the first
    }
  }
};

// This process's passwd entry's name or home directory. getpwuid_r, not getpwuid: tool calls
// resolve SSH settings on several threads at once, and getpwuid's result is one static buffer
// (ThreadSanitizer caught two status probes overwriting each other's entry).
std::optional<std::string> own_passwd_field(char* passwd::*field) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(::getuid(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return std::string(entry.*field);
}

std::string current_user() {
  if (const char* name = std::getenv("USER"); name != nullptr && *name != '\0') return name;
  return own_passwd_field(&passwd::pw_name).value_or("root");
}

std::string home_directory() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  return own_passwd_field(&passwd::pw_dir).value_or("/");
}

bool glob_match(const std::string& pattern, const std::string& host) {
  return ::fnmatch(lower(pattern).c_str(), lower(host).c_str(), 0) == 0;
}

}  // namespace

std::string SshDestination::describe() const { return user + "@" + hostname + ":" + std::to_string(port); }

SshConfigSources default_ssh_config_sources() {
  SshConfigSources sources;
  sources.home = home_directory();
  sources.local_user = current_user();
  sources.files = {sources.home + "/.ssh/config", "/etc/ssh/ssh_config"};
  return sources;
}

bool ssh_host_matches(const std::string& host, const std::vector<std::string>& patterns) {
  bool matched = false;
  for (const auto& pattern : patterns) {
    if (!pattern.empty() && pattern.front() == '!') {
      if (glob_match(pattern.substr(1), host)) return false;
    } else if (glob_match(pattern, host)) {
      matched = true;
    }
  }
  return matched;
}

bluegreen::Result<SshDestination> resolve_ssh_destination(const std::string& destination,
                                                          const SshConfigSources& sources) {
  std::string rest = destination;
  std::optional<std::string> given_user;
  std::optional<int> given_port;
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    given_user = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string::npos && rest.find(':') == colon) {
    const std::string port_text = rest.substr(colon + 1);
    char* end = nullptr;
    const long value = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || value < 1 || value > 65535) {
      return Error{"SSH destination \"" + destination + "\": the port must be a number from 1 to 65535",
                   bluegreen::ErrorCode::kInvalidArgument};
    }
    given_port = static_cast<int>(value);
    rest.resize(colon);
  }
  const auto valid_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_' || c == ':';
  };
  if (rest.empty() || rest.front() == '-' || !std::all_of(rest.begin(), rest.end(), valid_char) ||
      (given_user && (given_user->empty() || given_user->front() == '-'))) {
    return Error{"SSH destination \"" + destination +
                     "\" is not valid: expected an ssh config alias or [user@]host[:port]",
                 bluegreen::ErrorCode::kInvalidArgument};
  }

  Resolver resolver{rest, sources, {}, {}, {}, {}, {}, {}, {}, {}};
  for (std::size_t i = 0; i < sources.files.size(); ++i) {
    resolver.read_file(sources.files[i], 0, /*user_file=*/i == 0);
    if (resolver.error) return Error{*resolver.error, bluegreen::ErrorCode::kFailedPrecondition};
  }

  SshDestination resolved;
  resolved.alias = rest;
  resolved.hostname = resolver.hostname.value_or(rest);
  resolved.user = given_user.value_or(resolver.user.value_or(sources.local_user));
  resolved.port = given_port.value_or(resolver.port.value_or(22));
  resolved.identity_files = std::move(resolver.identity_files);
  resolved.identities_only = resolver.identities_only.value_or(false);
  resolved.known_hosts_file = resolver.known_hosts_file;
  resolved.warnings = std::move(resolver.warnings);
  return resolved;
}

}  // namespace bluegreen::remote
