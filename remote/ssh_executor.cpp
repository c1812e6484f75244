#include "remote/ssh_executor.h"

#include "remote/held_channel.h"
#include "remote/sftp_reader.h"
#include "remote/socket_forwarder.h"
#include "remote/ssh_command.h"
#include "remote/ssh_connection.h"

namespace bluegreen::remote {

// One host's session and what is kept on it. Members are destroyed in reverse order, so the
// SFTP reader frees its channel while the session still exists.
struct SshExecutor::Host {
  Host(const std::string& name, const SshSettings& settings)
      : connection(name, settings), sftp(connection), sockets(connection) {}

  SshConnection connection;
  SftpReader sftp;
  SocketForwarder sockets;
};

SshExecutor::SshExecutor(SshSettings settings) : settings_(std::move(settings)) {}

SshExecutor::~SshExecutor() = default;

std::shared_ptr<SshExecutor::Host> SshExecutor::host_for(const std::string& host) {
  std::lock_guard lock(mutex_);
  auto& entry = hosts_[host];
  if (!entry) entry = std::make_shared<Host>(host, settings_);
  return entry;
}

bluegreen::Status SshExecutor::connect(const std::string& host) {
  auto entry = host_for(host);
  auto lock = entry->connection.lock();
  return entry->connection.ensure_connected();
}

bluegreen::Result<CommandResult> SshExecutor::run(const std::string& host, const std::string& command,
                                                  const CommandOptions& options) {
  auto entry = host_for(host);
  auto lock = entry->connection.lock();
  return run_command(entry->connection, command, options, settings_.stop_grace);
}

bluegreen::Result<SocketReply> SshExecutor::query_unix_socket(const std::string& host, const std::string& socket_path,
                                                              const std::string& request,
                                                              const CommandOptions& options) {
  return host_for(host)->sockets.query(socket_path, request, options, [&](const CommandOptions& rest) {
    return Executor::query_unix_socket(host, socket_path, request, rest);
  });
}

bluegreen::Result<std::vector<FileRead>> SshExecutor::read_files(const std::string& host,
                                                                 const std::vector<std::string>& paths,
                                                                 const CommandOptions& options) {
  return host_for(host)->sftp.read_files(paths, options, [&](const CommandOptions& rest) {
    return Executor::read_files(host, paths, rest);
  });
}

bluegreen::Result<std::unique_ptr<HeldProcess>> SshExecutor::hold(const std::string& host, const std::string& command,
                                                                  const std::string& ready_line,
                                                                  const CommandOptions& options) {
  auto entry = host_for(host);
  // The handle keeps the whole Host alive (aliasing), so its connection outlives it.
  return hold_process(std::shared_ptr<SshConnection>(entry, &entry->connection), command, ready_line, options);
}

}  // namespace bluegreen::remote
