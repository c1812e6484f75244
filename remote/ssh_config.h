#pragma once
// Resolves an SSH destination the way OpenSSH's client does, from ssh_config files: the subset
// that matters for connecting (HostName, User, Port, IdentityFile, IdentitiesOnly,
// UserKnownHostsFile, Include).
//
// Why not libssh's own parser: libssh matches later `Host` blocks against the name *after* a
// HostName substitution, so the common layout (alias blocks with HostName, then a shared block
// for several aliases) silently loses Port/User/IdentityFile. Here, as in OpenSSH, patterns
// always match the name the user typed, and the first value obtained for a keyword wins.
//
// Security-related keywords (StrictHostKeyChecking, UpdateHostKeys, ...) are deliberately not
// read: host keys are always verified strictly. `Match` blocks are not supported and are skipped
// (reported in `warnings`).
//
// Thread-safety: pure functions (they read files).

#include "common/result.h"

#include <optional>
#include <string>
#include <vector>

namespace bluegreen::remote {

struct SshDestination {
  std::string alias;     // what was asked for, minus user@ and :port
  std::string hostname;  // where to connect
  std::string user;
  int port = 22;
  std::vector<std::string> identity_files;  // expanded paths, in order
  bool identities_only = false;
  std::optional<std::string> known_hosts_file;
  std::vector<std::string> warnings;  // unsupported constructs met while resolving

  [[nodiscard]] std::string describe() const;  // "user@hostname:port"
};

struct SshConfigSources {
  // Files read in order (first value wins). Missing files are skipped. Default:
  // ~/.ssh/config then /etc/ssh/ssh_config.
  std::vector<std::string> files;
  std::string home;        // for ~ and %d; default $HOME
  std::string local_user;  // for %u and the default User; default the current user
};

SshConfigSources default_ssh_config_sources();

// `destination` is "alias", "user@host", "host:port" or "user@host:port". User and port given in
// the destination win over the config, as with `ssh user@host -p port`. Errors: kInvalidArgument
// when the destination is not valid; kFailedPrecondition when a config file has an invalid value
// (fix the file, then retry).
bluegreen::Result<SshDestination> resolve_ssh_destination(const std::string& destination,
                                                          const SshConfigSources& sources);

// Does `host` match one `Host` line's patterns (with *, ? and !negation)?
bool ssh_host_matches(const std::string& host, const std::vector<std::string>& patterns);

}  // namespace bluegreen::remote
