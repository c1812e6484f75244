#include "remote/ssh_config_origin.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <glob.h>
#include <mutex>
#include <sstream>

namespace bluegreen::remote {
namespace {

constexpr int kMaxIncludeDepth = 16;  // OpenSSH's READCONF_MAX_DEPTH

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
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

// The words of a config line: keyword, then arguments (whitespace or one '=' after the keyword
// separate them; double quotes group).
std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::string current;
  bool quoted = false;
  bool have = false;
  for (const char c : line) {
    if (c == '"') {
      quoted = !quoted;
      have = true;
    } else if (!quoted && (std::isspace(static_cast<unsigned char>(c)) != 0 || (c == '=' && words.empty()))) {
      if (have) words.push_back(current);
      current.clear();
      have = false;
    } else if (!quoted && c == '#' && !have && words.empty()) {
      break;
    } else {
      current += c;
      have = true;
    }
  }
  if (have) words.push_back(current);
  return words;
}

std::vector<std::string> glob_paths(const std::string& pattern) {
  static std::mutex mutex;  // glob(3) is MT-Unsafe: one at a time
  std::lock_guard lock(mutex);
  glob_t found{};
  std::vector<std::string> paths;
  if (::glob(pattern.c_str(), 0, nullptr, &found) == 0) {  // NOLINT(concurrency-mt-unsafe): serialised above
    for (std::size_t i = 0; i < found.gl_pathc; ++i) paths.emplace_back(found.gl_pathv[i]);
  }
  ::globfree(&found);
  return paths;
}

struct Walk {
  const ConfigTrace& trace;
  const std::string& home;
  const std::string& keyword;

  // Include's paths as ssh_config(5) says: ~ expanded; relative ones in ~/.ssh for user files,
  // /etc/ssh for system files.
  [[nodiscard]] std::vector<std::string> included(const std::vector<std::string>& words, bool user_file) const {
    std::vector<std::string> paths;
    for (std::size_t i = 1; i < words.size(); ++i) {
      std::string pattern = words[i];
      if (pattern.rfind("~/", 0) == 0) pattern = home + pattern.substr(1);
      if (pattern.empty() || pattern.front() != '/') pattern = (user_file ? home + "/.ssh/" : "/etc/ssh/") + pattern;
      for (auto& path : glob_paths(pattern)) paths.push_back(std::move(path));
    }
    return paths;
  }

  [[nodiscard]] std::string file(const std::string& path, bool user_file, int depth) const {
    if (depth > kMaxIncludeDepth) return {};
    std::ifstream in(path);
    bool active = true;  // the lines before the first Host or Match apply to every host
    int number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      const auto words = words_of(line);
      if (words.empty()) continue;
      const std::string word = lower(words[0]);
      if (word == "host" || word == "match") {
        active = trace.active_blocks.count({path, number}) != 0;
      } else if (active && word == "include") {
        for (const auto& inner : included(words, user_file)) {
          if (auto found = file(inner, user_file, depth + 1); !found.empty()) return found;
        }
      } else if (active && word == keyword) {
        return path + ":" + std::to_string(number);
      }
    }
    return {};
  }
};

}  // namespace

ConfigTrace parse_trace(const std::string& stderr_text) {
  ConfigTrace trace;
  std::istringstream in(stderr_text);
  std::optional<std::pair<std::string, int>> match_line;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // OpenSSH ends stderr lines with CR LF
    const auto colon = line.find(": ");
    if (line.rfind("debug", 0) != 0 || colon == std::string::npos) continue;
    const std::string message = line.substr(colon + 2);
    if (message.find(": Applying options for ") != std::string::npos) {
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

std::string origin_of(const ConfigTrace& trace, const std::vector<std::string>& top_files, bool first_is_user_file,
                      const std::string& home, const std::string& keyword) {
  const Walk walk{trace, home, keyword};
  for (std::size_t i = 0; i < top_files.size(); ++i) {
    if (auto found = walk.file(top_files[i], i == 0 && first_is_user_file, 0); !found.empty()) return found;
  }
  return {};
}

}  // namespace bluegreen::remote
