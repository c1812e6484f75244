#pragma once
// Internal to remote/: the way to a host when the ssh config does not say "connect straight".
//
//  - ProxyJump: a session to the last jump host (opened with open_login(), itself through the
//    earlier hops, each host key checked strictly and each hop authenticated as its own ssh
//    config says, as `ssh -J` does), a "direct-tcpip" channel from it to the target's HostName
//    and Port (RFC 4254 section 7.2), and a thread that relays between that channel and a socket
//    pair whose other end the target's libssh session uses (SSH_OPTIONS_FD).
//    Why not libssh 0.10's own ProxyJump: it runs the OpenSSH client as a ProxyCommand, whose
//    host-key policy is the user's config (StrictHostKeyChecking ask/no), not ours.
//  - ProxyCommand: the command run by $SHELL (else /bin/sh) as ssh(1) runs it (tokens %h %p %r %n %% expanded),
//    its stdin/stdout on the socket pair; its stderr is kept for error messages. When the
//    command runs OpenSSH's ssh (`ssh -W %h:%p bastion`), `-o BatchMode=yes -o
//    StrictHostKeyChecking=yes` are added after `ssh`, so that hop's host key is checked strictly
//    too; other programs (cloudflared, aws ssm) authenticate their route themselves.
//
// Thread-safety: an SshRoute is owned by one SshLogin; its relay thread uses only the jump
// session, which nothing else touches.

#include "common/result.h"
#include "remote/ssh_config.h"
#include "remote/ssh_login.h"

#include <memory>
#include <string>

namespace bluegreen::remote {

class SshRoute {
 public:
  virtual ~SshRoute() = default;
  // "via bastion (root@10.0.0.9:22)", "via ProxyCommand `...`".
  [[nodiscard]] virtual std::string describe() const = 0;
  // What the route knows about a failure (a ProxyCommand's stderr, the relay's last error).
  [[nodiscard]] virtual std::string diagnostics() = 0;
};

struct OpenedRoute {
  std::unique_ptr<SshRoute> route;  // null: connect straight
  int fd = -1;                      // for SSH_OPTIONS_FD (libssh closes it), or -1
};

// Opens the route to `target` (resolved) when it has a ProxyJump or ProxyCommand. Errors: those
// of open_login() for a jump host (prefixed "jump host <hop>:"), kUnavailable when the jump host
// cannot open a connection to the target, kFailedPrecondition for a chain deeper than 8 hops.
bluegreen::Result<OpenedRoute> open_route(const SshDestination& target, const LoginContext& context, int depth);

}  // namespace bluegreen::remote
