#include "remote/ssh_executor.h"

#include "remote/connection_pool.h"
#include "remote/held_channel.h"
#include "remote/ssh_command.h"

#include <algorithm>

namespace bluegreen::remote {
namespace {

using std::chrono::milliseconds;

// How long a connection beyond a host's first may stay unused before it is closed.
constexpr auto kIdleConnectionLimit = std::chrono::seconds(60);

// `options` with what is left until `deadline` (at least 1 ms), once a connection was leased.
CommandOptions remaining(const CommandOptions& options, SshClock::time_point deadline) {
  CommandOptions rest = options;
  // Rounded up: without a wait for a connection, the caller's deadline stays what it was.
  rest.deadline = std::max(milliseconds(1), std::chrono::ceil<milliseconds>(deadline - SshClock::now()));
  return rest;
}

// Runs a command on the leased connection (the `cat` and `socat` fallbacks use the connection
// that found SFTP or forwarding unusable, never a second lease: that could wait for itself).
CommandRunner runner_on(PooledConnection& entry, milliseconds stop_grace) {
  return [&entry, stop_grace](const std::string& command, const CommandOptions& options) {
    auto lock = entry.connection.lock();
    return run_command(entry.connection, command, options, stop_grace);
  };
}

}  // namespace

// One host's pool of connections.
struct SshExecutor::Host {
  Host(const std::string& name, const SshSettings& settings, SshConfigResolver& resolver)
      : pool(name, settings, resolver, settings.max_connections_per_host, kIdleConnectionLimit) {}
  ConnectionPool pool;
};

SshExecutor::SshExecutor(SshSettings settings)
    : settings_(std::move(settings)), resolver_(SshConfigSources{settings_.config_file, settings_.connect_timeout}) {}

SshExecutor::~SshExecutor() = default;

std::shared_ptr<SshExecutor::Host> SshExecutor::host_for(const std::string& host) {
  std::lock_guard lock(mutex_);
  auto& entry = hosts_[host];
  if (!entry) entry = std::make_shared<Host>(host, settings_, resolver_);
  return entry;
}

bluegreen::Result<SshExecutor::ConnectionFacts> SshExecutor::connect(const std::string& host) {
  auto pool_entry = host_for(host);  // the pool outlives the lease
  auto leased = pool_entry->pool.acquire(SshClock::now() + settings_.connect_timeout, {});
  if (!leased) return leased.error();
  auto lease = std::move(leased.value());
  auto lock = lease->connection.lock();
  if (auto status = lease->connection.ensure_connected(); !status) return status.error();
  const SshLogin& login = lease->connection.login();
  return ConnectionFacts{login.endpoint, login.route_text, login.known_hosts, login.auth,
                         lease->connection.destination().notes};
}

bluegreen::Result<CommandResult> SshExecutor::run(const std::string& host, const std::string& command,
                                                  const CommandOptions& options) {
  const auto started = SshClock::now();
  auto pool_entry = host_for(host);
  auto leased = pool_entry->pool.acquire(started + options.deadline, options.stop);
  if (!leased) return leased.error();
  auto lease = std::move(leased.value());
  // The deadline counts from the call, time spent waiting for a connection included.
  auto lock = lease->connection.lock();
  return run_command(lease->connection, command, options, settings_.stop_grace, started);
}

bluegreen::Result<SocketReply> SshExecutor::query_unix_socket(const std::string& host, const std::string& socket_path,
                                                              const std::string& request,
                                                              const CommandOptions& options) {
  const auto deadline = SshClock::now() + options.deadline;
  auto pool_entry = host_for(host);
  auto leased = pool_entry->pool.acquire(deadline, options.stop);
  if (!leased) return leased.error();
  auto lease = std::move(leased.value());
  const CommandRunner run = runner_on(*lease, settings_.stop_grace);
  return lease->sockets.query(socket_path, request, remaining(options, deadline), [&](const CommandOptions& rest) {
    return query_unix_socket_with_socat(run, host, socket_path, request, rest);
  });
}

bluegreen::Result<std::vector<FileRead>> SshExecutor::read_files(const std::string& host,
                                                                 const std::vector<std::string>& paths,
                                                                 const CommandOptions& options, Piggyback* piggyback) {
  const auto deadline = SshClock::now() + options.deadline;
  if (piggyback) piggyback->ran = false;
  auto pool_entry = host_for(host);
  auto leased = pool_entry->pool.acquire(deadline, options.stop);
  if (!leased) return leased.error();
  auto lease = std::move(leased.value());
  const CommandRunner run = runner_on(*lease, settings_.stop_grace);
  return lease->sftp.read_files(paths, remaining(options, deadline), [&](const CommandOptions& rest) {
    return read_files_with_cat(run, host, paths, rest, piggyback);
  });
}

bluegreen::Result<std::unique_ptr<HeldProcess>> SshExecutor::hold(const std::string& host, const std::string& command,
                                                                  const std::string& ready_line,
                                                                  const CommandOptions& options) {
  const auto deadline = SshClock::now() + options.deadline;
  auto pool_entry = host_for(host);
  auto leased = pool_entry->pool.acquire(deadline, options.stop);
  if (!leased) return leased.error();
  auto lease = std::move(leased.value());
  // The handle keeps the connection alive; once the lease ends, other operations use it too.
  return hold_process(lease.shared_connection(), command, ready_line, remaining(options, deadline));
}

}  // namespace bluegreen::remote
