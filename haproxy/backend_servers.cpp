#include "haproxy/backend_servers.h"

#include "haproxy/config_lines.h"

#include <algorithm>

namespace bluegreen::haproxy {

std::map<std::string, std::vector<BackendServer>> backend_servers(const std::vector<ConfigFile>& files,
                                                                  const std::vector<std::string>& backends) {
  std::map<std::string, std::vector<BackendServer>> servers;
  for (const auto& file : files) {
    std::vector<BackendServer>* current = nullptr;
    for (const ConfigLine& line : split_config_lines(file.text)) {
      if (line.words.empty()) continue;
      const std::string& keyword = line.words[0].value;
      if (is_section_keyword(keyword)) {
        current = nullptr;
        if ((keyword == "backend" || keyword == "listen") && line.words.size() > 1 &&
            std::find(backends.begin(), backends.end(), line.words[1].value) != backends.end()) {
          current = &servers[line.words[1].value];
        }
        continue;
      }
      if (current == nullptr) continue;
      if (keyword == "server" && line.words.size() > 2) {
        current->push_back({line.words[1].value, line.words[2].value, file.path, line.number});
      } else if (keyword == "server-template" && line.words.size() > 3) {
        current->push_back({"", line.words[3].value, file.path, line.number});
      }
    }
  }
  return servers;
}

}  // namespace bluegreen::haproxy
