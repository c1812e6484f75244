#include "remote/ssh_auth.h"

#include "remote/agent_relay.h"
#include "remote/libssh_support.h"
#include "remote/ssh_host_key.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;

struct Attempts {
  std::vector<std::string> tried;      // what was offered, and its outcome
  std::vector<std::string> not_tried;  // what could not be offered, and why
  std::vector<std::string> offered;    // keys the agent offered ("type SHA256:..."), not offered again
};

std::string join(const std::vector<std::string>& parts) {
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : "; ") + part;
  return text;
}

bool is_public_file(const std::string& file) {
  return file.size() > 4 && file.compare(file.size() - 4, 4, ".pub") == 0;
}

// The agent's socket as the config says, or nullopt with the reason in `attempts`.
std::optional<std::string> agent_socket(const SshDestination& d, Attempts& attempts) {
  switch (d.agent) {
    case AgentSource::kNone: attempts.not_tried.emplace_back("no agent (IdentityAgent none)"); return std::nullopt;
    case AgentSource::kPath: return d.agent_path;
    case AgentSource::kEnvironment:
    default: {
      const char* env = std::getenv("SSH_AUTH_SOCK");  // NOLINT(concurrency-mt-unsafe): read only
      if (env != nullptr && *env != '\0') return std::string(env);
      attempts.not_tried.emplace_back(
          "no agent (SSH_AUTH_SOCK is not set in the server's environment; MCP clients rarely pass it on: set "
          "IdentityAgent in the ssh config, or SSH_AUTH_SOCK in the client's server entry)");
      return std::nullopt;
    }
  }
}

std::optional<std::string> try_agent(ssh_session s, const SshDestination& d, const std::vector<std::string>& files,
                                     Attempts& attempts) {
  const auto socket = agent_socket(d, attempts);
  if (!socket) return std::nullopt;
  std::vector<std::string> preferred;
  for (const auto& file : files)
    if (auto blob = identity_public_blob(file)) preferred.push_back(*blob);
  auto relay = AgentRelay::open(*socket, preferred, d.identities_only);
  if (!relay) {
    attempts.not_tried.push_back(relay.error().message);
    return std::nullopt;
  }
  ssh_set_agent_socket(s, relay.value()->take_libssh_fd());
  const int rc = ssh_userauth_agent(s, nullptr);
  if (rc == SSH_AUTH_SUCCESS) {
    return "agent " + *socket + " key " + relay.value()->signed_key().value_or("(unknown)");
  }
  const auto offered = relay.value()->offered();
  attempts.offered = offered;
  std::string text = "agent " + *socket + ": ";
  if (offered.empty()) {
    text += relay.value()->agent_keys() == 0 ? "it holds no keys"
                                             : "none of its " + std::to_string(relay.value()->agent_keys()) +
                                                   " keys is an IdentityFile's (IdentitiesOnly yes)";
  } else {
    text += "offered ";
    for (std::size_t i = 0; i < offered.size(); ++i) text += (i == 0 ? "" : ", ") + offered[i];
    text += ", none accepted";
  }
  attempts.tried.push_back(text);
  return std::nullopt;
}

int note_passphrase(const char*, char*, std::size_t, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

std::optional<std::string> try_files(ssh_session s, const std::vector<std::string>& files, bool configured,
                                     Attempts& attempts) {
  for (const auto& file : files) {
    std::error_code ignored;
    if (!std::filesystem::exists(file, ignored)) {
      if (configured) attempts.not_tried.push_back("IdentityFile " + file + " does not exist");
      continue;
    }
    if (is_public_file(file)) {  // a public key only names the agent's key to use
      if (attempts.offered.empty()) {
        attempts.not_tried.push_back("IdentityFile " + file +
                                     " is a public key: only an agent that holds its private key can use it");
      }
      continue;
    }
    // As ssh(1) does (sshkey_perm_ok): a private key others may read is refused.
    struct stat info {};
    if (::stat(file.c_str(), &info) == 0 && info.st_uid == ::getuid() && (info.st_mode & 077U) != 0) {
      attempts.not_tried.push_back("key file " + file + " may be read by others, which ssh refuses: chmod 600 " + file);
      continue;
    }
    bool asked = false;
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(file.c_str(), nullptr, note_passphrase, &asked, &raw) != SSH_OK) {
      attempts.not_tried.push_back(
          asked ? "key file " + file +
                      " is protected by a passphrase and no agent offered it: load it into an agent (ssh-add " + file +
                      ") and make that agent reachable (SSH_AUTH_SOCK or IdentityAgent)"
                : "key file " + file + " cannot be read as a private key");
      continue;
    }
    const KeyPtr key(raw);
    const std::string described = describe_key(key.get());
    if (std::find(attempts.offered.begin(), attempts.offered.end(), described) != attempts.offered.end()) continue;
    if (ssh_userauth_publickey(s, nullptr, key.get()) == SSH_AUTH_SUCCESS) return "key file " + file;
    attempts.tried.push_back("key file " + file + ": not accepted");
  }
  return std::nullopt;
}

}  // namespace

bluegreen::Result<std::string> authenticate(ssh_session s, const std::string& label, const SshDestination& d,
                                            const std::vector<std::string>& extra_identity_files) {
  // Some servers only list their methods after a "none" attempt; its result does not matter.
  if (ssh_userauth_none(s, nullptr) == SSH_AUTH_SUCCESS) return std::string("no authentication needed");
  std::vector<std::string> files = d.identity_files;
  files.insert(files.end(), extra_identity_files.begin(), extra_identity_files.end());
  Attempts attempts;
  if (auto how = try_agent(s, d, files, attempts)) return *how;
  if (auto how = try_files(s, files, d.identity_files_configured || !extra_identity_files.empty(), attempts)) {
    return *how;
  }
  // sshd ends the connection after MaxAuthTries failures (default 6): then say so, as ssh does.
  const std::string server_said = libssh_error(s);
  const bool too_many = server_said.find("Too many authentication failures") != std::string::npos;
  return Error{label + ": authentication as " + d.user + " failed: tried " +
                   (attempts.tried.empty() ? std::string("nothing") : join(attempts.tried)) +
                   (attempts.not_tried.empty() ? std::string() : "; not tried: " + join(attempts.not_tried)) +
                   (too_many ? ". The server closed the connection: too many authentication failures (sshd's "
                               "MaxAuthTries); set IdentitiesOnly yes with the right IdentityFile so only that key "
                               "is offered."
                             : ". Check the user and that the public key is in the host's authorized_keys."),
               ErrorCode::kUnavailable};
}

}  // namespace bluegreen::remote
