#pragma once
// Internal to remote/: the host-key check of a new session, against every known_hosts file the
// ssh config names for the host (UserKnownHostsFile, then GlobalKnownHostsFile, as ssh(1) reads
// them), always strict: only a key listed for the host passes, whatever StrictHostKeyChecking
// says (../shared/GUIDE.md section 6). Used for the target and for every jump host alike.
//
// The entries that apply to the host are found by OpenSSH's own matcher (`ssh-keygen -F`, one
// run per existing file): hashed entries, wildcards, `!` negations and the @revoked and
// @cert-authority markers (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT) behave as in ssh(1). libssh's
// check is not used: libssh 0.10 ignores @revoked lines and negated patterns.
//
// Thread-safety: requires exclusive use of the session.

#include "common/result.h"

#include <libssh/libssh.h>

#include <string>
#include <vector>

namespace bluegreen::remote {

struct HostKeyMatch {
  std::string file;  // the known_hosts file that lists the key
  std::string key;   // "ssh-ed25519 SHA256:..."
};

// Checks the key the server of the connected session `s` presented, for `host` (the HostName)
// and `port` (looked up as "[host]:port" unless 22, as ssh(1) does). `label` starts each message
// ("ssh lab-blue (root@10.0.0.5:22)"); `files` are checked in order, missing ones skipped. A key
// marked @revoked in any file is refused; otherwise the first file that lists the key wins, as in
// ssh(1) a listed key passes even when another file has an older one. Errors, all
// kFailedPrecondition (retrying cannot help until someone acts), except kUnavailable when the
// server sent no key:
//  - the key is revoked (the file, what to do);
//  - other keys are listed for the host, not this one (a possible man-in-the-middle; how to
//    replace the entry once confirmed);
//  - the key is in none of the files (which were read, the fingerprint, how to add it);
//  - ssh-keygen cannot read a file, or cannot run (openssh-client missing).
bluegreen::Result<HostKeyMatch> verify_host_key(ssh_session s, const std::string& label, const std::string& host,
                                                int port, const std::vector<std::string>& files);

// "ssh-ed25519 SHA256:...", the fingerprint form users compare; empty when `key` is null.
std::string describe_key(ssh_key key);

}  // namespace bluegreen::remote
