#pragma once
// Executor over SSH with libssh: a few sessions per host (SshSettings::max_connections_per_host),
// opened when needed and reused; a dead session is noticed and reopened before the next command.
// A call leases one session for its whole run: an idle one, else a new one up to the bound, else
// it waits (within its deadline and stop) for one to be returned. So a status call does not wait
// for a long deploy step on the same host; it pays one handshake when all open sessions are busy.
//
// Host keys are verified against a known_hosts file and only an exact match passes: an unknown or
// changed key is refused with the host, the key's fingerprint and how to trust it, whatever the
// ssh config says (StrictHostKeyChecking is forced on). Authentication uses ssh-agent and identity
// files (from the ssh config, the defaults, or SshSettings::identity_files). Host aliases from the
// ssh config work as with the ssh client: each destination is resolved once by OpenSSH itself
// (`ssh -G`, ssh_config.h) and jump hosts (ProxyJump, ProxyCommand) are honoured, each hop's host
// key checked as strictly as the target's; directives that cannot be honoured are refused.
//
// Every remote command is wrapped in `timeout` on the host, so it ends even if the connection
// drops (unless CommandOptions::host_timeout is off, for short read-only commands); locally the
// deadline (plus a grace) and the stop token end the wait, send the command (its whole process
// group) a TERM signal and close the channel.
//
// Every command that has the host-side `timeout` also ends on the host within about stop_grace
// when its connection ends (this server killed, exited, or the network gone): a watcher next to it
// reads the channel's end of input and stops its process group. So remote work started under a
// lock (held by a process that ends with its own connection) never outlives the lock by more.
//
// query_unix_socket() opens an OpenSSH "direct-streamlocal" channel on the host's session, so the
// socket is reached by sshd itself and no process starts on the host. When the host refuses that
// (sshd's AllowStreamLocalForwarding no or DisableForwarding yes, a no-port-forwarding key, a
// server other than OpenSSH), it falls back to socat through run(); when socat reached the socket
// and a second channel is refused too (not a socket that was briefly away), it keeps using socat
// on that session.
//
// read_files() speaks SFTP on a channel it keeps open per session (one sftp-server process per
// connection on the host, none per read), driven by the same deadline and stop handling; where the
// SFTP server fails it falls back to `cat` through run(), and where none can be started (no sftp
// Subsystem, a forced command) it stays with `cat` on that session. Piggybacked commands
// (executor.h) run only with `cat`, in its process: a call on a host without SFTP starts one
// process there, even the first one on a new session (a refused sftp subsystem starts nothing).
//
// The parts live in remote/: connection_pool (the sessions to one host, leased per call),
// ssh_connection (session, host key, authentication, reuse),
// ssh_command (exec channels), sftp_codec + sftp_reader (files), socket_forwarder (UNIX sockets),
// held_channel (hold()), libssh_support (handles, errors, polling). Their headers are internal.
//
// Thread-safety: every method may be called from any number of threads. Commands, file reads and
// socket queries run in parallel, to different hosts and to one host alike, up to
// max_connections_per_host at once per host; beyond that a call waits for a session to be
// returned and fails with kDeadlineExceeded or kCancelled when its deadline or stop comes first.
// A held process's handle may be used from any thread; its alive() and destructor wait while
// another call uses the session its channel is on (brief for status reads and LB commands).

#include "remote/executor.h"
#include "remote/ssh_config.h"

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::remote {

struct SshSettings {
  std::optional<std::string> config_file;  // ssh -F; default: ~/.ssh/config and /etc/ssh/ssh_config
  // Replaces the config's UserKnownHostsFile list when set (GlobalKnownHostsFile still applies).
  std::optional<std::string> known_hosts_file;  // default: the ssh config's, else ~/.ssh/known_hosts
  std::vector<std::string> identity_files;      // tried in addition to the agent and the config's
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds stop_grace = std::chrono::seconds(2);  // after TERM, before giving up
  // Sessions open at once to one host (at least 1): how many calls to one host run in parallel.
  std::size_t max_connections_per_host = 4;
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
  bluegreen::Result<SocketReply> query_unix_socket(const std::string& host, const std::string& socket_path,
                                                   const std::string& request, const CommandOptions& options) override;
  bluegreen::Result<std::vector<FileRead>> read_files(const std::string& host, const std::vector<std::string>& paths,
                                                      const CommandOptions& options,
                                                      Piggyback* piggyback = nullptr) override;

  // How a session to a host was made, for check-config.
  struct ConnectionFacts {
    std::string endpoint;            // "user@hostname:port"
    std::string route;               // "direct", "via bastion (root@10.0.0.9:22)", "via ProxyCommand `...`"
    std::string known_hosts;         // the known_hosts file that listed the host key
    std::string auth;                // "agent /run/agent.sock key ssh-ed25519 SHA256:...", "key file /root/.ssh/id"
    std::vector<std::string> notes;  // ssh config directives ignored or overridden, with file:line
  };

  // Opens a session to `host` if none is open (host key and authentication checked); waits up to
  // connect_timeout for a session when all are busy (then kDeadlineExceeded). Errors: those of
  // opening a session (see the class comment).
  bluegreen::Result<ConnectionFacts> connect(const std::string& host);

 private:
  struct Host;  // a host's pool of sessions (ssh_executor.cpp)
  std::shared_ptr<Host> host_for(const std::string& host);

  const SshSettings settings_;
  SshConfigResolver resolver_;  // every destination resolved once, for the executor's lifetime
  std::mutex mutex_;            // guards hosts_
  std::map<std::string, std::shared_ptr<Host>> hosts_;
};

}  // namespace bluegreen::remote
