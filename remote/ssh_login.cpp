#include "remote/ssh_login.h"

#include "remote/ssh_auth.h"
#include "remote/ssh_host_key.h"
#include "remote/ssh_route.h"

#include <spdlog/spdlog.h>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// libssh's option for each algorithm list ssh -G prints (both directions where it has two).
std::vector<ssh_options_e> algorithm_options(const std::string& keyword) {
  if (keyword == "ciphers") return {SSH_OPTIONS_CIPHERS_C_S, SSH_OPTIONS_CIPHERS_S_C};
  if (keyword == "macs") return {SSH_OPTIONS_HMAC_C_S, SSH_OPTIONS_HMAC_S_C};
  if (keyword == "kexalgorithms") return {SSH_OPTIONS_KEY_EXCHANGE};
  if (keyword == "hostkeyalgorithms") return {SSH_OPTIONS_HOSTKEYS};
  if (keyword == "pubkeyacceptedalgorithms") return {SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES};
  return {};
}

// Never let libssh parse an ssh config: it was resolved by OpenSSH already, and libssh's parser
// could override the security options set here.
bluegreen::Status set_options(ssh_session s, const std::string& label, const SshDestination& d, milliseconds timeout) {
  const bool no = false;
  const int yes = 1;
  const auto port = static_cast<unsigned int>(d.port);
  // Without a timeout, blocking libssh calls wait forever for a host that stopped answering.
  const long timeout_s = static_cast<long>(timeout.count() / 1000);
  const long timeout_us = static_cast<long>((timeout.count() % 1000) * 1000);
  if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_HOST, d.hostname.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_USER, d.user.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &yes) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_s) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &timeout_us) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes) != SSH_OK) {
    return Error{label + ": invalid connection options: " + libssh_error(s), ErrorCode::kInvalidArgument};
  }
  for (const auto& [keyword, list] : d.algorithms) {
    for (const auto option : algorithm_options(keyword)) {
      if (ssh_options_set(s, option, list.c_str()) != SSH_OK) {
        return Error{label + ": libssh implements none of the " + keyword + " the ssh config sets (" + list + ")",
                     ErrorCode::kInvalidArgument};
      }
    }
  }
  return bluegreen::ok_status();
}

std::vector<std::string> known_hosts_files(const SshDestination& d, const SshSettings& settings) {
  std::vector<std::string> files;
  if (settings.known_hosts_file) {
    files.push_back(*settings.known_hosts_file);
  } else {
    files = d.user_known_hosts_files;
  }
  files.insert(files.end(), d.global_known_hosts_files.begin(), d.global_known_hosts_files.end());
  return files;
}

std::string elapsed_ms(SshClock::time_point since) {
  return std::to_string(duration_cast<milliseconds>(SshClock::now() - since).count()) + " ms";
}

// Why ssh_connect() failed, with what to check: the route's own words first (a ProxyCommand's
// stderr), then libssh's.
Error connect_failure(ssh_session s, const std::string& label, SshLogin& login, SshClock::time_point started) {
  const std::string error = libssh_error(s);
  const std::string detail = login.route ? login.route->diagnostics() : std::string();
  std::string hint = "check that the host is up and sshd listens on that address and port";
  if (login.route) hint = "check the route";
  if (error.find("resolve hostname") != std::string::npos)
    hint = "check the HostName and that this machine resolves it";
  if (error.find("algorithm") != std::string::npos || error.find("kex") != std::string::npos ||
      error.find("no match for method") != std::string::npos) {
    hint = "no algorithm in common with the server: check Ciphers, MACs, KexAlgorithms and HostKeyAlgorithms in "
           "the ssh config";
  }
  const std::string what = detail.empty() ? error : detail + " (libssh: " + error + ")";
  return Error{label + ": cannot connect: " + what + " (after " + elapsed_ms(started) + "; " + hint + ")",
               ErrorCode::kUnavailable};
}

}  // namespace

SshLogin::SshLogin() = default;
SshLogin::SshLogin(SshLogin&&) noexcept = default;
SshLogin& SshLogin::operator=(SshLogin&& other) noexcept {
  if (this != &other) {
    session.reset();  // the old session before the old route that serves its socket
    route = std::move(other.route);
    session = std::move(other.session);
    endpoint = std::move(other.endpoint);
    route_text = std::move(other.route_text);
    known_hosts = std::move(other.known_hosts);
    auth = std::move(other.auth);
  }
  return *this;
}
SshLogin::~SshLogin() {
  session.reset();  // the session's socket is served by the route: close it first
  route.reset();
}

bluegreen::Result<SshLogin> open_login(const std::string& name, const SshDestination& resolved,
                                       const LoginContext& context, int depth) {
  SshLogin login;
  login.endpoint = resolved.describe();
  login.session.reset(ssh_new());
  if (!login.session) return Error{"ssh " + name + ": cannot allocate a libssh session", ErrorCode::kUnavailable};
  ssh_session s = login.session.get();
  const milliseconds timeout = resolved.connect_timeout.value_or(context.settings.connect_timeout);
  const std::string role = depth > 0 ? "jump host " : "ssh ";
  std::string label = role + name + " (" + login.endpoint + ")";
  if (auto status = set_options(s, label, resolved, timeout); !status) return status.error();

  const auto started = SshClock::now();
  auto route = open_route(resolved, context, depth);
  if (!route) return Error{label + ": " + route.error().message, route.error().code};
  login.route = std::move(route->route);
  if (login.route) {
    login.route_text = login.route->describe();
    label = role + name + " (" + login.endpoint + " " + login.route_text + ")";
    socket_t fd = route->fd;
    ssh_options_set(s, SSH_OPTIONS_FD, &fd);
  } else {
    login.route_text = "direct";
  }
  if (ssh_connect(s) != SSH_OK) return connect_failure(s, label, login, started);
  auto verified =
      verify_host_key(s, label, resolved.hostname, resolved.port, known_hosts_files(resolved, context.settings));
  if (!verified) return verified.error();
  login.known_hosts = verified->file;
  auto authenticated = authenticate(s, label, resolved, context.settings.identity_files);
  if (!authenticated) return authenticated.error();
  login.auth = authenticated.value();
  spdlog::info("{}: connected in {} (host key in {}, {})", label, elapsed_ms(started), login.known_hosts, login.auth);
  return login;
}

}  // namespace bluegreen::remote
