#include "remote/ssh_host_key.h"

#include "remote/libssh_support.h"

#include <filesystem>
#include <optional>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;

std::string list(const std::vector<std::string>& files) {
  std::string text;
  for (const auto& file : files) text += (text.empty() ? "" : ", ") + file;
  return text.empty() ? "(no known_hosts file exists)" : text;
}

}  // namespace

std::string describe_key(ssh_key key) {
  if (key == nullptr) return {};
  unsigned char* hash = nullptr;
  std::size_t hash_length = 0;
  std::string fingerprint = "unknown";
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_length) == SSH_OK) {
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_length);
    if (text != nullptr) fingerprint = text;
    ssh_string_free_char(text);
    ssh_clean_pubkey_hash(&hash);
  }
  const char* type_name = ssh_key_type_to_char(ssh_key_type(key));
  return std::string(type_name != nullptr ? type_name : "key") + " " + fingerprint;
}

bluegreen::Result<HostKeyMatch> verify_host_key(ssh_session s, const std::string& label,
                                                const std::vector<std::string>& files) {
  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(s, &raw_key) != SSH_OK) {
    return libssh_failure(label, "the server sent no host key", s, ErrorCode::kUnavailable);
  }
  const KeyPtr key(raw_key);
  const std::string key_text = describe_key(key.get());
  std::vector<std::string> read;
  std::optional<std::string> changed_in;
  for (const auto& file : files) {
    std::error_code ignored;
    if (!std::filesystem::exists(file, ignored)) continue;
    read.push_back(file);
    // libssh checks the session's host and port ("[host]:port" unless 22) against the user file
    // and the global file; each file is checked alone, so the one that matched is known.
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, file.c_str());
    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    switch (ssh_session_is_known_server(s)) {
      case SSH_KNOWN_HOSTS_OK: return HostKeyMatch{file, key_text};
      case SSH_KNOWN_HOSTS_CHANGED:
      case SSH_KNOWN_HOSTS_OTHER:
        if (!changed_in) changed_in = file;
        break;
      case SSH_KNOWN_HOSTS_NOT_FOUND:
      case SSH_KNOWN_HOSTS_UNKNOWN: break;
      case SSH_KNOWN_HOSTS_ERROR:
      default:
        return libssh_failure(label, "cannot check the host key against " + file, s, ErrorCode::kFailedPrecondition);
    }
  }
  if (changed_in) {
    return Error{label + ": REFUSED: the host key does not match " + *changed_in + " (server now presents " + key_text +
                     "). This can mean a man-in-the-middle attack. If the host was legitimately reinstalled, "
                     "confirm the new fingerprint out of band, remove the old entry with ssh-keygen -R <host> -f " +
                     *changed_in + " and add the new key.",
                 ErrorCode::kFailedPrecondition};
  }
  const std::string target = files.empty() ? std::string("~/.ssh/known_hosts") : files.front();
  return Error{label + ": REFUSED: the host key is not known (" + key_text + " is in none of " + list(read) +
                   "). Nothing is trusted on first use: confirm this fingerprint with the host's administrator, "
                   "then add it, e.g. ssh-keyscan -p <port> <address> >> " +
                   target + " (or connect once with ssh and accept it).",
               ErrorCode::kFailedPrecondition};
}

}  // namespace bluegreen::remote
