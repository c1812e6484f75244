// Cost of a short remote command: SshExecutor over an already-open connection, against spawning
// the ssh client for the same command (what the Node.js server this replaces does), on the lab.
// Then the load balancer reads status makes, each both ways: HAProxy's stats socket forwarded by
// sshd against socat on the host, and the config and state files over SFTP against cat.
// Prints figures; asserts nothing.
//
// Usage: bench_remote_exec [runs=200]   (the lab must be up: tests/lab/lab up)
#include "remote/ssh_executor.h"
#include "tests/support/lab_env.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <functional>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(q * static_cast<double>(values.size())))];
}

// Spawns `ssh -F <config> lab-blue true`, output discarded; returns the exit status.
int spawn_ssh(const std::string& config) {
  std::vector<std::string> args{"ssh", "-F", config, "-o", "BatchMode=yes", "lab-blue", "true"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "ssh", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A remote command on an open connection against an ssh client started per command.
int bench_commands(remote::SshExecutor& executor, const labenv::Lab& lab, int runs,
                   const remote::CommandOptions& options) {
  const auto connect_start = Clock::now();
  if (auto status = executor.connect("lab-blue"); !status) {
    std::fprintf(stderr, "connect failed: %s\n", status.error().message.c_str());
    return 1;
  }
  const double connect_ms = ms_since(connect_start);

  std::vector<double> warm;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    auto result = executor.run("lab-blue", "true", options);
    warm.push_back(ms_since(start));
    if (!result || !result->succeeded()) {
      std::fprintf(stderr, "run failed\n");
      return 1;
    }
  }

  std::vector<double> spawned;
  const int spawn_runs = std::max(10, runs / 5);
  for (int i = 0; i < spawn_runs; ++i) {
    const auto start = Clock::now();
    if (spawn_ssh(lab.ssh_config) != 0) {
      std::fprintf(stderr, "ssh client failed\n");
      return 1;
    }
    spawned.push_back(ms_since(start));
  }

  const double warm_median = quantile(warm, 0.5);
  const double spawn_median = quantile(spawned, 0.5);
  std::printf("remote command `true` on lab-blue\n");
  std::printf("  %-44s %9s %9s %6s\n", "", "median", "p90", "runs");
  std::printf("  %-44s %7.2f ms %7.2f ms %6d\n", "SshExecutor, connection already open", warm_median,
              quantile(warm, 0.9), runs);
  std::printf("  %-44s %7.2f ms %7.2f ms %6d\n", "ssh client spawned per command", spawn_median, quantile(spawned, 0.9),
              spawn_runs);
  std::printf("  first connection (handshake + auth): %.2f ms\n", connect_ms);
  std::printf("  ratio (spawned / open connection): %.1fx\n", spawn_median / warm_median);
  return 0;
}

// The load balancer's reads, each way (Executor:: is the fallback: socat and cat on the host).
void bench_lb_reads(remote::SshExecutor& executor, const labenv::Lab& lab, int runs,
                    const remote::CommandOptions& options) {
  const std::string stats_socket = lab.var("LAB_HAPROXY_ADMIN_SOCK");
  const std::vector<std::string> files = {lab.var("LAB_HAPROXY_CFG"), lab.var("LAB_STATE_DIR") + "/shop.json"};
  remote::Executor& fallback = executor;
  const auto time_runs = [&](const std::function<bool()>& once) {
    std::vector<double> samples;
    for (int i = 0; i < runs; ++i) {
      const auto start = Clock::now();
      if (!once()) {
        std::fprintf(stderr, "load balancer read failed\n");
        std::exit(1);  // NOLINT(concurrency-mt-unsafe): the benchmark runs on one thread
      }
      samples.push_back(ms_since(start));
    }
    return samples;
  };
  const auto forwarded = time_runs([&] {
    auto reply = executor.query_unix_socket("lab-lb", stats_socket, "show stat\n", options);
    return reply && reply->forwarded;
  });
  const auto socat = time_runs([&] {
    return fallback.remote::Executor::query_unix_socket("lab-lb", stats_socket, "show stat\n", options).ok();
  });
  const auto sftp = time_runs([&] { return executor.read_files("lab-lb", files, options).ok(); });
  const auto cat = time_runs([&] { return fallback.remote::Executor::read_files("lab-lb", files, options).ok(); });
  std::printf("\nload balancer reads on lab-lb (connection already open)\n");
  std::printf("  %-44s %9s %9s %6s\n", "", "median", "p90", "runs");
  const auto line = [&](const char* name, const std::vector<double>& samples) {
    std::printf("  %-44s %7.2f ms %7.2f ms %6d\n", name, quantile(samples, 0.5), quantile(samples, 0.9), runs);
  };
  line("`show stat`, socket forwarded by sshd", forwarded);
  line("`show stat`, socat on the host", socat);
  line("haproxy.cfg + state file over SFTP", sftp);
  line("haproxy.cfg + state file with cat", cat);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const int runs = argc > 1 ? std::atoi(argv[1]) : 200;
  const labenv::Lab lab;

  remote::SshSettings settings;
  settings.config_file = lab.ssh_config;
  remote::SshExecutor executor(settings);
  remote::CommandOptions options;
  options.deadline = std::chrono::seconds(10);

  if (const int status = bench_commands(executor, lab, runs, options); status != 0) return status;
  bench_lb_reads(executor, lab, runs, options);
  return 0;
}
