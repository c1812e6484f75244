#include "nginx/config_dump.h"

namespace bluegreen::nginx {
namespace {

constexpr std::string_view kHeader = "# configuration file ";

// At `pos`: a header line "# configuration file PATH:\n"; its path, and `pos` moved past it.
bool read_header(std::string_view dump, std::size_t& pos, std::string& path) {
  if (dump.substr(pos, kHeader.size()) != kHeader) return false;
  const auto newline = dump.find('\n', pos);
  if (newline == std::string_view::npos || newline < pos + kHeader.size() + 1 || dump[newline - 1] != ':') return false;
  path = std::string(dump.substr(pos + kHeader.size(), newline - 1 - pos - kHeader.size()));
  pos = newline + 1;
  return true;
}

// Where the next header line starts at or after `from`, at the start of a line; npos if none.
std::size_t next_header(std::string_view dump, std::size_t from) {
  for (std::size_t pos = from; pos < dump.size();) {
    std::size_t at = pos;
    std::string path;
    if (read_header(dump, at, path)) return pos;
    const auto newline = dump.find('\n', pos);
    if (newline == std::string_view::npos) return std::string_view::npos;
    pos = newline + 1;
  }
  return std::string_view::npos;
}

bluegreen::Error dump_error(const std::string& what) {
  return bluegreen::Error("cannot read `nginx -T`'s output: " + what);
}

}  // namespace

bluegreen::Result<std::vector<ConfigFile>> split_config_dump(std::string_view dump,
                                                             const std::map<std::string, std::size_t>& sizes) {
  std::vector<ConfigFile> files;
  std::size_t pos = 0;
  std::string path;
  if (!read_header(dump, pos, path)) {
    const auto line = dump.substr(0, dump.find('\n'));
    return dump_error("it does not start with \"# configuration file PATH:\" but with \"" +
                      std::string(line.substr(0, 200)) + "\"");
  }
  for (;;) {
    std::size_t end = 0;
    if (!sizes.empty()) {
      const auto size = sizes.find(path);
      if (size == sizes.end()) return dump_error("no size was read for " + path);
      end = pos + size->second;
      if (end >= dump.size() || dump[end] != '\n') {
        return dump_error(path + " is not " + std::to_string(size->second) +
                          " bytes long in the dump (it changed between reading it and its size): read again");
      }
    } else {
      const auto next = next_header(dump, pos);
      end = next == std::string_view::npos ? dump.size() - 1 : next - 1;
      if (end < pos || end >= dump.size() || dump[end] != '\n') {
        return dump_error(path + " does not end with the line feed nginx adds after each file");
      }
    }
    files.push_back({path, std::string(dump.substr(pos, end - pos))});
    pos = end + 1;
    if (pos == dump.size()) return files;
    if (!read_header(dump, pos, path)) {
      return dump_error("after " + files.back().path + " comes no \"# configuration file PATH:\" line");
    }
  }
}

}  // namespace bluegreen::nginx
