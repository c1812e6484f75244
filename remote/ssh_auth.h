#pragma once
// Internal to remote/: public-key authentication of a new session as ssh(1) does it for the
// resolved ssh config: the agent first (SSH_AUTH_SOCK, or IdentityAgent's socket, or none), with
// only the IdentityFile keys when IdentitiesOnly is set (through AgentRelay), then each
// IdentityFile's private key. A key protected by a passphrase is never prompted for (there is no
// one to ask): it is named in the error with how to load it into an agent. Used for targets and
// jump hosts alike.
//
// Thread-safety: requires exclusive use of the session.

#include "common/result.h"
#include "remote/ssh_config.h"

#include <libssh/libssh.h>

#include <string>
#include <vector>

namespace bluegreen::remote {

// Authenticates the connected session `s` (host key already verified) as `destination.user`.
// `extra_identity_files` (bluegreen's own ssh.identityFiles) are tried after the config's.
// Returns how it succeeded ("agent /run/agent.sock key ssh-ed25519 SHA256:...", "key file
// /root/.ssh/id_ed25519"). Errors: kUnavailable, naming the user, each thing tried and its
// outcome, what was not tried and why (no agent, a missing file, a passphrase), and what to check.
bluegreen::Result<std::string> authenticate(ssh_session s, const std::string& label, const SshDestination& destination,
                                            const std::vector<std::string>& extra_identity_files);

}  // namespace bluegreen::remote
