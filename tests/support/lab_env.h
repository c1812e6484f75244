#pragma once
// The lab's coordinates, read from the lab.env file that `tests/lab/lab up` writes into the lab
// directory (BLUEGREEN_LAB_DIR, default /tmp/bluegreen-lab). Used by the e2e tests and the
// benchmarks. Throws std::runtime_error when the lab is not up.

#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

namespace labenv {

inline std::map<std::string, std::string> read_env_file() {
  const char* dir = std::getenv("BLUEGREEN_LAB_DIR");
  const std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp/bluegreen-lab") + "/lab.env";
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot read " + path + ": bring the lab up first (tests/lab/lab up)");
  std::map<std::string, std::string> vars;
  for (std::string line; std::getline(file, line);) {
    if (line.rfind("export ", 0) == 0) line.erase(0, 7);
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    vars[line.substr(0, eq)] = value;
  }
  return vars;
}

struct Lab {
  std::map<std::string, std::string> vars = read_env_file();

  [[nodiscard]] std::string var(const std::string& name) const {
    const auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) throw std::runtime_error("lab.env has no " + name);
    return it->second;
  }

  std::string dir = var("LAB_DIR");
  std::string ssh_config = var("LAB_SSH_CONFIG");
  std::string known_hosts = var("LAB_KNOWN_HOSTS");
  std::string key = var("LAB_KEY");
  std::string blue_addr = var("BLUE_ADDR");
  std::string green_addr = var("GREEN_ADDR");
  std::string lb_addr = var("LB_ADDR");
  std::string ssh_port = var("SSH_PORT");
  std::string app_port = var("APP_PORT");

  // Direct destinations ("root@addr:port") need the known_hosts file and key given explicitly;
  // the aliases lab-blue, lab-green, lab-lb come from the lab's ssh config.
  [[nodiscard]] std::string blue() const { return "root@" + blue_addr + ":" + ssh_port; }
  [[nodiscard]] std::string green() const { return "root@" + green_addr + ":" + ssh_port; }
  [[nodiscard]] std::string lb() const { return "root@" + lb_addr + ":" + ssh_port; }
  [[nodiscard]] std::string health_url(const std::string& addr) const {
    return "http://" + addr + ":" + app_port + "/health";
  }
};

}  // namespace labenv
