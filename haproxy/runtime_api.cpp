#include "haproxy/runtime_api.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

namespace bluegreen::haproxy {
namespace {

using bluegreen::Error;

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t offset = 0;
  while (offset < text.size()) {
    const std::size_t newline = text.find('\n', offset);
    const std::size_t end = newline == std::string_view::npos ? text.size() : newline;
    std::string_view line = text.substr(offset, end - offset);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    offset = end + 1;
  }
  return lines;
}

bool is_blank_line(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

// The answer quoted in an error message: what the socket said instead of the expected format
// is usually the explanation ("Permission denied", "Unknown command", an empty answer).
std::string quote_answer(std::string_view text) {
  const auto lines = split_lines(text);
  const auto first = std::find_if(lines.begin(), lines.end(), [](std::string_view l) { return !is_blank_line(l); });
  if (first == lines.end()) return "the answer was empty";
  std::string shown;
  for (const char c : first->substr(0, 120)) {
    shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (first->size() > 120) shown += "...";
  return "the answer began with `" + shown + "`";
}

// One CSV record as HAProxy's csv_enc() writes it: fields separated by ',', a field containing
// ',' or '"' enclosed in '"' with inner '"' doubled.
std::vector<std::string> split_csv(std::string_view line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(std::move(field));
  return fields;
}

template <typename Integer>
std::optional<Integer> parse_integer(std::string_view text) {
  Integer value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split_whitespace(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t begin = line.find_first_not_of(" \t", i);
    if (begin == std::string_view::npos) break;
    const std::size_t end = std::min(line.find_first_of(" \t", begin), line.size());
    words.push_back(line.substr(begin, end - begin));
    i = end;
  }
  return words;
}

}  // namespace

bluegreen::Result<std::vector<ServerStatus>> parse_show_stat(std::string_view csv, StatRows rows) {
  const auto lines = split_lines(csv);
  const auto header =
      std::find_if(lines.begin(), lines.end(), [](std::string_view line) { return !is_blank_line(line); });
  // HAProxy writes "# pxname,svname,..."; only the leading '#' is relied on, the columns are then
  // looked up by name.
  if (header == lines.end() || header->front() != '#' || header->find(',') == std::string_view::npos) {
    return Error{"HAProxy `show stat`: no CSV header line (`# pxname,svname,...`); " + quote_answer(csv)};
  }
  std::string_view header_text = header->substr(1);
  header_text.remove_prefix(std::min(header_text.find_first_not_of(' '), header_text.size()));

  const std::vector<std::string> columns = split_csv(header_text);
  constexpr std::array<std::string_view, 6> kRequired{"pxname", "svname", "status", "check_status", "scur", "stot"};
  std::array<std::size_t, kRequired.size()> index{};
  std::string missing;
  for (std::size_t i = 0; i < kRequired.size(); ++i) {
    const auto found = std::find(columns.begin(), columns.end(), kRequired[i]);
    if (found == columns.end()) {
      missing += (missing.empty() ? "" : ", ") + std::string(kRequired[i]);
    } else {
      index[i] = static_cast<std::size_t>(found - columns.begin());
    }
  }
  if (!missing.empty()) return Error{"HAProxy `show stat`: the header has no column " + missing};
  const std::size_t needed = *std::max_element(index.begin(), index.end()) + 1;

  std::vector<ServerStatus> statuses;
  for (auto line = header + 1; line != lines.end(); ++line) {
    if (is_blank_line(*line)) continue;
    const auto line_number = std::to_string(line - lines.begin() + 1);
    const std::vector<std::string> fields = split_csv(*line);
    if (fields.size() < needed) {
      return Error{"HAProxy `show stat`: line " + line_number + " has " + std::to_string(fields.size()) +
                   " fields; the header needs at least " + std::to_string(needed)};
    }
    const std::string& server = fields[index[1]];
    if (server == "FRONTEND") continue;
    if (server == "BACKEND" && rows == StatRows::servers_only) continue;

    ServerStatus status;
    status.backend = fields[index[0]];
    status.server = server;
    status.status = fields[index[2]];
    status.check_status = fields[index[3]];
    // HAProxy leaves a counter empty where it does not apply; that is no sessions, not an error.
    const auto count = [&](std::size_t column, long long& out) -> bool {
      const std::string& text = fields[index[column]];
      if (text.empty()) return true;
      const auto value = parse_integer<long long>(text);
      if (!value) return false;
      out = *value;
      return true;
    };
    if (!count(4, status.current_sessions) || !count(5, status.total_sessions)) {
      return Error{"HAProxy `show stat`: line " + line_number + " (" + status.backend + "/" + status.server +
                   ") has a session count that is not a number"};
    }
    statuses.push_back(std::move(status));
  }
  return statuses;
}

std::optional<std::int64_t> parse_proc_uptime(std::string_view text) {
  // d, h, m, s in this order, each after a number.
  std::int64_t total = 0;
  std::int64_t number = -1;
  std::size_t unit = 0;
  static constexpr std::string_view kUnits = "dhms";
  static constexpr std::array<std::int64_t, 4> kSeconds{86400, 3600, 60, 1};
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      if (number > 100000000) return std::nullopt;
      number = (number < 0 ? 0 : number * 10) + (c - '0');
      continue;
    }
    if (unit >= kUnits.size() || c != kUnits[unit] || number < 0) return std::nullopt;
    total += number * kSeconds[unit];
    number = -1;
    ++unit;
  }
  if (unit != kUnits.size() || number >= 0) return std::nullopt;
  return total;
}

bluegreen::Result<ProcessInfo> parse_show_proc(std::string_view text) {
  const auto lines = split_lines(text);
  const auto header =
      std::find_if(lines.begin(), lines.end(), [](std::string_view line) { return !is_blank_line(line); });
  constexpr std::string_view kHeaderStart = "#<PID>";
  if (header == lines.end() || header->substr(0, kHeaderStart.size()) != kHeaderStart) {
    return Error{"HAProxy `show proc`: no `#<PID> <type> <reloads> ...` header; " + quote_answer(text) +
                 " (is this the master socket of a master-worker HAProxy?)"};
  }

  enum class Section { master, workers, old_workers, other };
  Section section = Section::master;
  ProcessInfo info;
  bool master_seen = false;
  for (auto line = header + 1; line != lines.end(); ++line) {
    if (is_blank_line(*line)) continue;
    const auto line_number = std::to_string(line - lines.begin() + 1);
    if (line->front() == '#') {
      const auto words = split_whitespace(line->substr(1));
      std::string title;
      for (const auto word : words) title += (title.empty() ? "" : " ") + std::string(word);
      section = title == "workers"       ? Section::workers
                : title == "old workers" ? Section::old_workers
                                         : Section::other;  // "programs", or one a later version adds
      continue;
    }
    if (section == Section::other) continue;

    const auto words = split_whitespace(*line);
    const auto pid = words.size() >= 3 ? parse_integer<int>(words[0]) : std::nullopt;
    if (!pid) return Error{"HAProxy `show proc`: line " + line_number + " `" + std::string(*line) + "` has no pid"};
    const std::string_view type = words[1];
    if (section == Section::master) {
      if (type != "master") continue;
      const auto reloads = parse_integer<int>(words[2]);
      if (!reloads) {
        return Error{"HAProxy `show proc`: line " + line_number + ": reload count `" + std::string(words[2]) +
                     "` is not a number"};
      }
      info.master_pid = *pid;
      info.reloads = *reloads;
      // "[failed: N]" follows the count since HAProxy 2.5.
      if (words.size() >= 5 && words[3] == "[failed:" && words[4].size() > 1 && words[4].back() == ']') {
        info.failed_reloads = parse_integer<int>(words[4].substr(0, words[4].size() - 1)).value_or(0);
      }
      master_seen = true;
    } else if (type == "worker") {
      (section == Section::workers ? info.current_worker_pids : info.old_worker_pids).push_back(*pid);
      const auto uptime = words.size() >= 4 ? parse_proc_uptime(words[3]) : std::nullopt;
      if (section == Section::workers && uptime) {
        info.current_worker_uptime_s = std::min(info.current_worker_uptime_s.value_or(*uptime), *uptime);
      }
    }
  }
  if (!master_seen) return Error{"HAProxy `show proc`: no master process in the answer; " + quote_answer(text)};
  return info;
}

namespace {

std::string quoted_answer(std::string_view text) {
  std::string shown(text.substr(0, 300));
  while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r' || shown.back() == ' ')) shown.pop_back();
  return "HAProxy answered `" + shown + "`";
}

}  // namespace

bluegreen::Result<std::vector<RuntimeMapEntry>> parse_show_map(std::string_view text) {
  std::vector<RuntimeMapEntry> entries;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const auto first = line.find(' ');
    const auto second = first == std::string_view::npos ? std::string_view::npos : line.find(' ', first + 1);
    if (line.rfind("0x", 0) != 0 || second == std::string_view::npos) return bluegreen::Error{quoted_answer(text)};
    entries.push_back({std::string(line.substr(first + 1, second - first - 1)), std::string(line.substr(second + 1))});
  }
  return entries;
}

bluegreen::Result<unsigned long long> parse_prepare_map(std::string_view text) {
  constexpr std::string_view kPrefix = "New version created: ";
  if (text.rfind(kPrefix, 0) != 0) return bluegreen::Error{quoted_answer(text)};
  const auto digits = text.substr(kPrefix.size(), text.find('\n') - kPrefix.size());
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return bluegreen::Error{quoted_answer(text)};
  }
  return std::stoull(std::string(digits));
}

std::string add_and_commit_map_request(const std::string& file, unsigned long long version,
                                       const std::vector<RuntimeMapEntry>& entries) {
  const std::string at = "@" + std::to_string(version) + " " + file;
  std::string request = "add map " + at + " <<\n";
  for (const auto& entry : entries) request += entry.key + " " + entry.value + "\n";
  return request + "\ncommit map " + at;
}

std::string map_commit_problem(std::string_view reply) {
  const auto message = reply.find_first_not_of("\n\r ");
  if (message != std::string_view::npos) return quoted_answer(reply.substr(message));  // the add's empty line skipped
  // Nothing but empty lines: each answers one command. Fewer than two means the reply ended
  // before the commit was answered (HAProxy stopped, the connection was cut): not a success.
  const auto answered = std::count(reply.begin(), reply.end(), '\n');
  if (answered >= 2) return "";
  return answered == 0 ? "HAProxy sent no answer, so the commit is not confirmed"
                       : "HAProxy answered the add map but not the commit map, so the commit is not confirmed";
}

}  // namespace bluegreen::haproxy
