#pragma once
// What OpenSSH's own client would do for an SSH destination: its effective options as
// `ssh -G [-F file] <host>` prints them (OpenSSH's resolver, so every ssh_config rule holds as in
// ssh(1) and ssh_config(5): `Key value`, `Key=value`, `Key = value`, Include with globs and
// relative paths, Host patterns with negation, Match, first value wins, token expansion), turned
// into what the libssh connection needs.
//
// Every option whose value differs from OpenSSH's default (read once from `ssh -G -F /dev/null`)
// is checked against ssh_directives.h: honoured, overridden (host keys are always checked
// strictly), ignored (it does not change where or how the connection is made), or refused. A
// refused one fails the resolution, naming the directive, the file and line that set it, and what
// to do: a connection is never made along another route than the one the config describes.
//
// Thread-safety: resolve_ssh_destination() is a pure function of the files it reads (it runs
// `ssh -G`, twice the first time). SshConfigResolver may be used from any thread.

#include "common/result.h"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::remote {

// How the agent is found (IdentityAgent, ssh_config(5)).
enum class AgentSource {
  kEnvironment,  // SSH_AUTH_SOCK (the default, and `IdentityAgent SSH_AUTH_SOCK`)
  kPath,         // `IdentityAgent <path>` (tokens and ~ expanded)
  kNone,         // `IdentityAgent none`: no agent is used
};

struct SshDestination {
  std::string alias;     // what was asked for, minus user@ and :port
  std::string hostname;  // where to connect (HostName)
  std::string user;
  int port = 22;
  std::vector<std::string> identity_files;  // expanded paths, in order (only those that exist are used)
  bool identity_files_configured = false;   // false: OpenSSH's default list (missing files are expected)
  bool identities_only = false;
  AgentSource agent = AgentSource::kEnvironment;
  std::string agent_path;                                    // for kPath
  std::vector<std::string> user_known_hosts_files;           // expanded, in order
  std::vector<std::string> global_known_hosts_files;         // expanded, in order
  std::optional<std::chrono::milliseconds> connect_timeout;  // ConnectTimeout, when set
  std::chrono::seconds server_alive_interval{0};             // ServerAliveInterval; 0: off
  int server_alive_count_max = 3;                            // ServerAliveCountMax
  std::vector<std::string> proxy_jump;  // ProxyJump hops in order, each "[user@]host[:port]"; empty: none
  std::string proxy_command;            // ProxyCommand as configured (tokens not expanded); empty: none
  // Algorithm lists set in the config (keyword as ssh -G prints it, e.g. "hostkeyalgorithms",
  // value the comma-separated list OpenSSH computed), passed on to libssh.
  std::map<std::string, std::string> algorithms;
  std::vector<std::string> notes;  // directives ignored on purpose, "Keyword (file:line): why"

  [[nodiscard]] std::string describe() const;  // "user@hostname:port"
};

struct SshConfigSources {
  std::optional<std::string> config_file;    // -F FILE; default: ~/.ssh/config and /etc/ssh/ssh_config
  std::chrono::milliseconds timeout{10000};  // for each `ssh -G` (a Match exec may run commands)
};

// `destination` is "alias", "user@host", "host:port" or "user@host:port". User and port given in
// the destination win over the config, as with `ssh -l user -p port host`. Errors:
// kInvalidArgument when the destination is not valid; kFailedPrecondition when OpenSSH rejects
// the config (its own message, with file and line), when a directive is refused (each one named
// with its file and line and what to do), when a token cannot be expanded, or when `ssh` cannot
// be run (the message says to install openssh-client); kDeadlineExceeded when `ssh -G` hangs.
bluegreen::Result<SshDestination> resolve_ssh_destination(const std::string& destination,
                                                          const SshConfigSources& sources);

// Checks the form of a destination without reading any config: an ssh config alias,
// [user@]host[:port], [user@][address]:port or ssh://[user@]host[:port]. Errors:
// kInvalidArgument with what is wrong (the port, a character, a leading '-').
bluegreen::Status check_ssh_destination(const std::string& destination);

// Expands ~, ${VAR} and the % tokens of ssh_config(5) TOKENS (%% %d %h %i %j %k %L %l %n %p %r
// %u) in `value` for `destination`. `keyword` names the directive in errors. Errors:
// kFailedPrecondition for an unset variable or a token bluegreen-mcp does not implement (%C, %T).
bluegreen::Result<std::string> expand_ssh_tokens(const std::string& value, const SshDestination& destination,
                                                 const std::string& keyword);

// Resolves each destination once for the life of the object (a server's lifetime): OpenSSH is
// run once per destination, successes are kept, failures are not (a fixed config is read again
// on the next call). Thread-safe; two threads asking for one destination may both run ssh -G.
class SshConfigResolver {
 public:
  explicit SshConfigResolver(SshConfigSources sources) : sources_(std::move(sources)) {}
  bluegreen::Result<SshDestination> resolve(const std::string& destination);

 private:
  const SshConfigSources sources_;
  std::mutex mutex_;
  std::map<std::string, SshDestination> cache_;
};

}  // namespace bluegreen::remote
