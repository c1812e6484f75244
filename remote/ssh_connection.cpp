#include "remote/ssh_connection.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

}  // namespace

SshConnection::SshConnection(std::string host, const SshSettings& settings)
    : host_(std::move(host)), settings_(settings) {}

SshConnection::~SshConnection() { drop(); }

bluegreen::Status SshConnection::ensure_connected() {
  if (connected()) return bluegreen::ok_status();
  drop();
  auto session = open_session();
  if (!session) return session.error();
  session_ = std::move(session.value());
  ++generation_;
  return bluegreen::ok_status();
}

bluegreen::Result<ChannelPtr> SshConnection::open_channel() {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto status = ensure_connected(); !status) return status.error();
    ChannelPtr channel(ssh_channel_new(session_.get()));
    if (channel && ssh_channel_open_session(channel.get()) == SSH_OK) return channel;
    spdlog::warn("ssh {}: opening a channel failed ({}); reconnecting", host_, libssh_error(session_.get()));
    channel.reset();
    drop();
  }
  return Error{"ssh " + host_ + ": cannot open a channel after reconnecting", ErrorCode::kUnavailable};
}

void SshConnection::drop() {
  for (ChannelPtr* channel : tracked_) channel->reset();
  session_.reset();
}

bluegreen::Result<SessionPtr> SshConnection::open_session() {
  SessionPtr session(ssh_new());
  if (!session) return Error{"ssh " + host_ + ": cannot allocate a libssh session", ErrorCode::kUnavailable};
  ssh_session s = session.get();

  auto resolved = resolve_ssh_destination(host_, config_sources());
  if (!resolved) return Error{"ssh " + host_ + ": " + resolved.error().message, resolved.error().code};
  destination_ = std::move(resolved.value());
  for (const auto& warning : destination_.warnings) spdlog::warn("ssh config: {}", warning);
  if (auto status = set_options(s); !status) return status.error();

  endpoint_ = destination_.describe();
  const auto started = SshClock::now();
  if (ssh_connect(s) != SSH_OK) {
    return Error{"ssh " + host_ + " (" + endpoint_ + "): cannot connect: " + libssh_error(s) + " (after " +
                     std::to_string(duration_cast<milliseconds>(SshClock::now() - started).count()) +
                     " ms; check that the host is up and sshd listens on that address and port)",
                 ErrorCode::kUnavailable};
  }
  if (auto verified = verify_host_key(s); !verified) return verified.error();
  if (auto authenticated = authenticate(s); !authenticated) return authenticated.error();
  spdlog::info("ssh {} ({}): connected in {} ms", host_, endpoint_,
               duration_cast<milliseconds>(SshClock::now() - started).count());
  return session;
}

// The ssh config was resolved already (see the header), so libssh must not parse it again: its
// parser could override what is set here.
bluegreen::Status SshConnection::set_options(ssh_session s) const {
  const bool no = false;
  const int yes = 1;
  const unsigned int port = static_cast<unsigned int>(destination_.port);
  // Without a timeout, blocking libssh calls wait forever for a host that stopped answering.
  const long timeout_s = static_cast<long>(settings_.connect_timeout.count() / 1000);
  const long timeout_us = static_cast<long>((settings_.connect_timeout.count() % 1000) * 1000);
  const std::string known_hosts = known_hosts_file();
  if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_HOST, destination_.hostname.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_USER, destination_.user.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &yes) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_s) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &timeout_us) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes) != SSH_OK) {
    return libssh_failure(host_, "invalid connection options", s, ErrorCode::kInvalidArgument);
  }
  for (const auto& identity : identity_files()) ssh_options_set(s, SSH_OPTIONS_ADD_IDENTITY, identity.c_str());
  return bluegreen::ok_status();
}

SshConfigSources SshConnection::config_sources() const {
  SshConfigSources sources = default_ssh_config_sources();
  if (settings_.config_file) sources.files = {*settings_.config_file};
  return sources;
}

std::string SshConnection::known_hosts_file() const {
  if (settings_.known_hosts_file) return *settings_.known_hosts_file;
  if (destination_.known_hosts_file) return *destination_.known_hosts_file;
  return default_ssh_config_sources().home + "/.ssh/known_hosts";
}

std::vector<std::string> SshConnection::identity_files() const {
  std::vector<std::string> files = settings_.identity_files;
  files.insert(files.end(), destination_.identity_files.begin(), destination_.identity_files.end());
  return files;
}

// "ssh-ed25519 SHA256:...": what the user compares with the host's administrator.
std::string SshConnection::key_description(ssh_session s) const {
  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(s, &raw_key) != SSH_OK) return {};
  KeyPtr key(raw_key);
  unsigned char* hash = nullptr;
  std::size_t hash_length = 0;
  std::string fingerprint = "unknown";
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_length) == SSH_OK) {
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_length);
    if (text != nullptr) fingerprint = text;
    ssh_string_free_char(text);
    ssh_clean_pubkey_hash(&hash);
  }
  const char* type_name = ssh_key_type_to_char(ssh_key_type(key.get()));
  return std::string(type_name != nullptr ? type_name : "key") + " " + fingerprint;
}

// Only SSH_KNOWN_HOSTS_OK passes. A refused key is kFailedPrecondition, not kUnavailable:
// reconnecting cannot help until someone trusts (or investigates) the key.
bluegreen::Status SshConnection::verify_host_key(ssh_session s) const {
  const std::string key_text = key_description(s);
  if (key_text.empty()) {
    return libssh_failure(host_, "the server sent no host key", s, ErrorCode::kUnavailable);
  }
  const std::string known_hosts = known_hosts_file();
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK: return bluegreen::ok_status();
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return Error{"ssh " + host_ + " (" + endpoint_ + "): REFUSED: the host key does not match " + known_hosts +
                       " (server now presents " + key_text +
                       "). This can mean a man-in-the-middle attack. If the host was legitimately reinstalled, "
                       "confirm the new fingerprint out of band, remove the old entry with ssh-keygen -R <host> -f " +
                       known_hosts + " and add the new key.",
                   ErrorCode::kFailedPrecondition};
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      return Error{"ssh " + host_ + " (" + endpoint_ + "): REFUSED: the host key is not known (" + key_text +
                       " is not in " + known_hosts +
                       "). Nothing is trusted on first use: confirm this fingerprint with the host's administrator, "
                       "then add it, e.g. ssh-keyscan -p <port> <address> >> " +
                       known_hosts + " (or connect once with ssh and accept it).",
                   ErrorCode::kFailedPrecondition};
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      return libssh_failure(host_, "cannot check the host key against " + known_hosts, s,
                            ErrorCode::kFailedPrecondition);
  }
}

bluegreen::Status SshConnection::authenticate(ssh_session s) const {
  // Some servers only list their methods after a "none" attempt; its result does not matter.
  if (ssh_userauth_none(s, nullptr) == SSH_AUTH_SUCCESS) return bluegreen::ok_status();
  // IdentitiesOnly: offer just the configured files, never the agent's keys (a full agent can
  // exhaust the server's MaxAuthTries before the right key is offered).
  if (!destination_.identities_only) {
    if (ssh_userauth_publickey_auto(s, nullptr, nullptr) == SSH_AUTH_SUCCESS) return bluegreen::ok_status();
  }
  std::string tried = destination_.identities_only ? "" : "ssh-agent and default identities";
  for (const auto& file : identity_files()) {
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) continue;
    KeyPtr key(raw);
    tried += (tried.empty() ? "" : ", ") + file;
    if (ssh_userauth_publickey(s, nullptr, key.get()) == SSH_AUTH_SUCCESS) return bluegreen::ok_status();
  }
  return Error{"ssh " + host_ + " (" + endpoint_ + "): authentication failed (tried " +
                   (tried.empty() ? std::string("no usable key") : tried) + "): " + libssh_error(s) +
                   ". Check the user and that the public key is in the host's authorized_keys.",
               ErrorCode::kUnavailable};
}

}  // namespace bluegreen::remote
