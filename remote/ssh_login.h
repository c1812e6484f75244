#pragma once
// Internal to remote/: opening a session the way ssh(1) would for a resolved destination: the
// route (straight, through ProxyJump hosts, or through a ProxyCommand; ssh_route.h), the host-key
// check (ssh_host_key.h) and authentication (ssh_auth.h). SshConnection opens its sessions with
// it, and a ProxyJump route opens each jump host's session with it, so every hop is checked as
// strictly as the target.
//
// Thread-safety: open_login() may run on any thread; the result belongs to its caller.

#include "common/result.h"
#include "remote/libssh_support.h"
#include "remote/ssh_config.h"
#include "remote/ssh_executor.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::remote {

class SshRoute;

// A connected, verified, authenticated session and what keeps its route open. The route is
// declared first so it outlives the session (whose socket it serves).
struct SshLogin {
  SshLogin();
  SshLogin(SshLogin&&) noexcept;
  SshLogin& operator=(SshLogin&&) noexcept;
  ~SshLogin();

  std::unique_ptr<SshRoute> route;  // null for a direct connection
  SessionPtr session;
  std::string endpoint;     // "user@hostname:port"
  std::string route_text;   // "direct", "via bastion (root@10.0.0.9:22)", "via ProxyCommand ..."
  std::string known_hosts;  // the file that listed the host key
  std::string auth;         // how authentication succeeded (ssh_auth.h)
};

// What one SSH session needs besides the destination: the settings and the shared resolver.
struct LoginContext {
  const SshSettings& settings;
  SshConfigResolver& resolver;
};

// Opens a session to `name` (an ssh destination) resolved as `resolved`. `depth` counts the jump
// hosts on the way (0 for a target). Blocks up to the connect timeout per network step and hop.
// Errors (messages start "ssh <name> (<user@host:port>[ via ...])"):
//  - kInvalidArgument: libssh rejected the options (algorithm lists it does not implement);
//  - kFailedPrecondition: a host key unknown or changed, a jump chain too deep (a loop), a
//    ProxyCommand that cannot start;
//  - kUnavailable: cannot connect (to the host or a jump host, named), or authentication failed.
bluegreen::Result<SshLogin> open_login(const std::string& name, const SshDestination& resolved,
                                       const LoginContext& context, int depth);

}  // namespace bluegreen::remote
