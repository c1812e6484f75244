#include "deployment/lb_snapshot.h"

#include "remote/shell_command.h"

#include <algorithm>
#include <map>
#include <set>
#include <random>

namespace deployment {
namespace {

using remote::shell_quote;

std::string nonce() {
  std::random_device device;
  std::uniform_int_distribution<unsigned long long> distribution;
  return std::to_string(distribution(device));
}

struct Section {
  std::string output;
  int exit_status = -1;
};

// Splits the combined output: each section is "@@N section NAME\n<output>\n@@N exit CODE\n".
std::map<std::string, Section> split_sections(const std::string& text, const std::string& tag) {
  std::map<std::string, Section> sections;
  const std::string open = "@@" + tag + " section ";
  const std::string close = "\n@@" + tag + " exit ";
  std::size_t at = 0;
  while ((at = text.find(open, at)) != std::string::npos) {
    const auto name_end = text.find('\n', at);
    if (name_end == std::string::npos) break;
    const std::string name = text.substr(at + open.size(), name_end - at - open.size());
    const auto end = text.find(close, name_end + 1);
    if (end == std::string::npos) break;
    Section section;
    section.output = text.substr(name_end + 1, end - name_end - 1);
    section.exit_status = std::atoi(text.c_str() + end + close.size());
    sections[name] = std::move(section);
    at = end + close.size();
  }
  return sections;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text.size() > 400 ? text.substr(0, 400) + "..." : text;
}

}  // namespace

std::string trim_blanks(const std::string& line) {
  const auto first = line.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = line.find_last_not_of(" \t\r");
  return line.substr(first, last - first + 1);
}

std::optional<state::Color> color_of_backend(const config::AppConfig& app, const std::string& backend) {
  if (backend == app.load_balancer.blue_backend) return state::Color::kBlue;
  if (backend == app.load_balancer.green_backend) return state::Color::kGreen;
  return std::nullopt;
}

const std::string& backend_of(const config::AppConfig& app, state::Color color) {
  return color == state::Color::kBlue ? app.load_balancer.blue_backend : app.load_balancer.green_backend;
}

haproxy::Selector selector_of(const config::AppConfig& app) {
  return haproxy::Selector{app.load_balancer.section, app.load_balancer.directive, app.load_balancer.condition};
}

std::string socket_command(const std::string& socket_path, const std::string& command) {
  return "echo " + shell_quote(command) + " | socat -t 2 -T 5 - UNIX-CONNECT:" + shell_quote(socket_path);
}

namespace {

// Interprets one app's sections of a combined LB read.
LbSnapshot interpret(const config::AppConfig& app, const state::StateStore& store, bool with_processes,
                     std::map<std::string, Section>& sections) {
  const auto& lb = app.load_balancer;
  LbSnapshot snapshot;

  // HAProxy's routing: the truth.
  if (const auto& config = sections["haproxy:" + lb.haproxy_config]; config.exit_status != 0) {
    snapshot.live_problem = "cannot read the HAProxy config " + lb.haproxy_config + " on " + lb.ssh + ": " +
                            trimmed(config.output);
  } else {
    snapshot.haproxy_text = config.output;
    auto selection = haproxy::find_live_backend(config.output, selector_of(app));
    if (!selection) {
      snapshot.live_problem = "cannot tell which colour is live from " + lb.haproxy_config + ": " +
                              selection.error().message;
    } else {
      snapshot.selection = selection.value();
      snapshot.live = color_of_backend(app, selection->backend);
      if (!snapshot.live) {
        snapshot.live_problem = "HAProxy routes to backend \"" + selection->backend + "\" (line " +
                                std::to_string(selection->line_number) + "), which is neither the blue backend \"" +
                                lb.blue_backend + "\" nor the green backend \"" + lb.green_backend +
                                "\" configured for app " + app.name;
      }
    }
  }

  // The state file: the record.
  if (const auto& state_section = sections["state:" + lb.state_file]; state_section.exit_status != 0) {
    snapshot.state_status = StateFileStatus::kUnreadable;
    snapshot.state_problem = "cannot read the state file " + lb.state_file + ": " + trimmed(state_section.output);
  } else if (auto parsed = store.parse_read(state_section.output); !parsed) {
    snapshot.state_status = StateFileStatus::kCorrupt;
    snapshot.state_problem = parsed.error().message;
  } else if (!parsed->has_value()) {
    snapshot.state_status = StateFileStatus::kMissing;
    snapshot.state_problem = "there is no state file " + lb.state_file +
                             " yet; the next deploy or switch creates it from what HAProxy routes to";
  } else {
    snapshot.state_status = StateFileStatus::kOk;
    snapshot.state = std::move(**parsed);
  }

  if (lb.stats_socket) {
    const auto& stats = sections["stats:" + *lb.stats_socket];
    auto servers = haproxy::parse_show_stat(stats.output, haproxy::StatRows::servers_and_backends);
    if (stats.exit_status == 0 && servers) {
      snapshot.servers = std::move(servers.value());
    } else {
      snapshot.servers_problem = "cannot read HAProxy's stats socket " + *lb.stats_socket + ": " +
                                 (servers ? trimmed(stats.output) : servers.error().message);
    }
  }
  if (lb.master_socket && with_processes) {
    const auto& proc = sections["proc:" + *lb.master_socket];
    auto processes = haproxy::parse_show_proc(proc.output);
    if (proc.exit_status == 0 && processes) {
      snapshot.processes = processes.value();
    } else {
      snapshot.processes_problem = "cannot read HAProxy's master socket " + *lb.master_socket + ": " +
                                   (processes ? trimmed(proc.output) : processes.error().message);
    }
  }
  return snapshot;
}

}  // namespace

std::vector<LbSnapshot> read_lb_snapshots(remote::Executor& executor, const std::vector<const config::AppConfig*>& apps,
                                          const std::vector<const state::StateStore*>& stores, bool with_processes) {
  if (apps.empty()) return {};
  const auto& first = apps.front()->load_balancer;
  // One section per distinct file or socket, however many apps share it.
  const std::string tag = nonce();
  std::string script;
  std::set<std::string> added;
  const auto add = [&](const std::string& name, const std::string& command) {
    if (!added.insert(name).second) return;
    script += "printf '@@" + tag + " section " + name + "\\n'; { " + command + "; } 2>&1; printf '\\n@@" + tag +
              " exit %s\\n' \"$?\"; ";
  };
  auto timeout = first.command_timeout;
  for (std::size_t i = 0; i < apps.size(); ++i) {
    const auto& lb = apps[i]->load_balancer;
    add("haproxy:" + lb.haproxy_config, "cat -- " + shell_quote(lb.haproxy_config));
    add("state:" + lb.state_file, stores[i]->read_script());
    if (lb.stats_socket) add("stats:" + *lb.stats_socket, socket_command(*lb.stats_socket, "show stat"));
    if (lb.master_socket && with_processes) add("proc:" + *lb.master_socket, socket_command(*lb.master_socket, "show proc"));
    timeout = std::max(timeout, lb.command_timeout);
  }

  remote::CommandOptions options;
  options.deadline = timeout;
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto result = executor.run(first.ssh, script, options);
  std::string unreachable;
  if (!result) {
    unreachable = result.error().message;
  } else if (!result->exit_status) {
    unreachable = "reading the load balancer " + first.ssh + " did not finish: " + result->summary();
  }
  std::vector<LbSnapshot> snapshots;
  if (!unreachable.empty()) {
    for (std::size_t i = 0; i < apps.size(); ++i) {
      LbSnapshot snapshot;
      snapshot.unreachable = unreachable;
      snapshot.live_problem = "the load balancer cannot be reached, so which colour is live is unknown: " + unreachable;
      snapshot.state_problem = snapshot.live_problem;
      snapshots.push_back(std::move(snapshot));
    }
    return snapshots;
  }
  auto sections = split_sections(result->out.tail, tag);
  for (std::size_t i = 0; i < apps.size(); ++i) {
    snapshots.push_back(interpret(*apps[i], *stores[i], with_processes, sections));
  }
  return snapshots;
}

LbSnapshot read_lb_snapshot(remote::Executor& executor, const config::AppConfig& app, const state::StateStore& store,
                            bool with_processes) {
  return std::move(read_lb_snapshots(executor, {&app}, {&store}, with_processes).front());
}

}  // namespace deployment
