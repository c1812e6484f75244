#pragma once
// Internal to remote/: the host-key check of a new session, against every known_hosts file the
// ssh config names for the host (UserKnownHostsFile, then GlobalKnownHostsFile, in order, as
// ssh(1) reads them; hashed entries included), always strict: only a key listed for the host
// passes, whatever StrictHostKeyChecking says (../shared/GUIDE.md section 6). Used for the target
// and for every jump host alike.
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

// Checks the key the server of the connected session `s` presented. `label` starts each message
// ("ssh lab-blue (root@10.0.0.5:22)"); `files` are checked in order, missing ones skipped; the
// first that lists the key wins, as in ssh(1) a listed key passes even when another file has an
// older one. Errors, all kFailedPrecondition (retrying cannot help until someone acts), except
// kUnavailable when the server sent no key:
//  - the key is listed under the host in a file, but differs (a possible man-in-the-middle; how
//    to replace it once confirmed);
//  - the key is in none of the files (which were read, the fingerprint, how to add it);
//  - a file cannot be read or parsed.
bluegreen::Result<HostKeyMatch> verify_host_key(ssh_session s, const std::string& label,
                                                const std::vector<std::string>& files);

// "ssh-ed25519 SHA256:...", the fingerprint form users compare; empty when `key` is null.
std::string describe_key(ssh_key key);

}  // namespace bluegreen::remote
