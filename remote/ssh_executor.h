#pragma once
// Executor over SSH with libssh: one session per host, opened on first use and reused; a dead
// session is noticed and reopened before the next command.
//
// Host keys are verified against a known_hosts file and only an exact match passes: an unknown or
// changed key is refused with the host, the key's fingerprint and how to trust it, whatever the
// ssh config says (StrictHostKeyChecking is forced on). Authentication uses ssh-agent and identity
// files (from the ssh config, the defaults, or SshSettings::identity_files). Host aliases from the
// ssh config (HostName, User, Port, IdentityFile) work as with the ssh client.
//
// Every remote command is wrapped in `timeout` on the host, so it ends even if the connection
// drops; locally the deadline (plus a grace) and the stop token end the wait, send the command a
// TERM signal and close the channel.
//
// Thread-safety: run() may be called from any number of threads. Commands to different hosts run
// in parallel; commands to one host are serialised on its session.

#include "remote/executor.h"

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace remote {

struct SshSettings {
  std::optional<std::string> config_file;       // default: ~/.ssh/config (and /etc/ssh/ssh_config)
  std::optional<std::string> known_hosts_file;  // default: the ssh config's, else ~/.ssh/known_hosts
  std::vector<std::string> identity_files;      // tried in addition to the agent and the config's
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds stop_grace = std::chrono::seconds(2);  // after TERM, before giving up
};

class SshExecutor final : public Executor {
 public:
  explicit SshExecutor(SshSettings settings);
  ~SshExecutor() override;

  SshExecutor(const SshExecutor&) = delete;
  SshExecutor& operator=(const SshExecutor&) = delete;

  bluegreen::Result<CommandResult> run(const std::string& host, const std::string& command,
                                       const CommandOptions& options) override;
  bluegreen::Result<std::unique_ptr<HeldProcess>> hold(const std::string& host, const std::string& command,
                                                       const std::string& ready_line,
                                                       const CommandOptions& options) override;

  // Opens the session to `host` if it is not open (host key and authentication checked).
  bluegreen::Status connect(const std::string& host);

 private:
  class Connection;
  class HeldChannel;
  std::shared_ptr<Connection> connection_for(const std::string& host);

  const SshSettings settings_;
  std::mutex mutex_;  // guards connections_
  std::map<std::string, std::shared_ptr<Connection>> connections_;
};

}  // namespace remote
