#include "remote/ssh_host_key.h"

#include "remote/libssh_support.h"
#include "remote/local_process.h"

#include <filesystem>
#include <optional>
#include <sstream>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;

std::string list(const std::vector<std::string>& files) {
  std::string text;
  for (const auto& file : files) text += (text.empty() ? "" : ", ") + file;
  return text;
}

// What one known_hosts file says about the host, as OpenSSH's own matcher finds it.
struct FileVerdict {
  bool listed = false;   // a plain entry holds the server's key
  bool revoked = false;  // an @revoked entry holds it
  bool other = false;    // plain entries exist for the host, none with that key
};

// `ssh-keygen -F <lookup> -f <file>` prints each entry that applies to the host (hashed entries,
// wildcards and `!` negations resolved as ssh does), each after a "# Host ... found: line N
// [REVOKED|CA]" line. libssh's own check is not used: it ignores @revoked lines and negations.
bluegreen::Result<FileVerdict> read_verdict(const std::string& lookup, const std::string& file,
                                            const std::string& server_key) {
  auto run = run_local({"ssh-keygen", "-F", lookup, "-f", file}, std::chrono::seconds(5));
  if (!run) return run.error();
  FileVerdict verdict;
  if (run->exit_status == 1) return verdict;  // no entry for the host
  if (run->exit_status != 0) return Error{"ssh-keygen cannot read " + file, ErrorCode::kFailedPrecondition};
  std::istringstream in(run->out);
  std::string marker;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# Host ", 0) == 0) {
      marker = line.find(" REVOKED") != std::string::npos ? "revoked"
               : line.find(" CA") != std::string::npos    ? "ca"
                                                          : "";
      continue;
    }
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string word; fields >> word;) words.push_back(word);
    const std::size_t key_at = !words.empty() && words[0].front() == '@' ? 3 : 2;
    if (words.size() <= key_at || marker == "ca") continue;  // certificate authorities are not trusted
    const bool same = words[key_at] == server_key;
    if (marker == "revoked") {
      verdict.revoked = verdict.revoked || same;
    } else if (same) {
      verdict.listed = true;
    } else {
      verdict.other = true;
    }
  }
  return verdict;
}

std::string lookup_name(const std::string& host, int port) {
  return port == 22 ? host : "[" + host + "]:" + std::to_string(port);
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

bluegreen::Result<HostKeyMatch> verify_host_key(ssh_session s, const std::string& label, const std::string& host,
                                                int port, const std::vector<std::string>& files) {
  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(s, &raw_key) != SSH_OK) {
    return Error{label + ": the server sent no host key: " + libssh_error(s), ErrorCode::kUnavailable};
  }
  const KeyPtr key(raw_key);
  const std::string key_text = describe_key(key.get());
  char* base64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &base64) != SSH_OK || base64 == nullptr) {
    return Error{label + ": cannot read the server's host key", ErrorCode::kUnavailable};
  }
  const std::string server_key = base64;
  ssh_string_free_char(base64);
  const std::string lookup = lookup_name(host, port);

  std::vector<std::string> read;
  std::optional<std::string> listed_in;
  std::optional<std::string> other_in;
  for (const auto& file : files) {
    std::error_code ignored;
    if (!std::filesystem::is_regular_file(file, ignored)) continue;
    auto verdict = read_verdict(lookup, file, server_key);
    if (!verdict) return Error{label + ": cannot check the host key: " + verdict.error().message, verdict.error().code};
    read.push_back(file);
    if (verdict->revoked) {
      return Error{label + ": REFUSED: the host key " + key_text + " is marked @revoked in " + file +
                       ". Do not connect until the host's administrator has given it a new key; then replace the "
                       "entry for " +
                       lookup + ".",
                   ErrorCode::kFailedPrecondition};
    }
    if (verdict->listed && !listed_in) listed_in = file;
    if (verdict->other && !other_in) other_in = file;
  }
  if (listed_in) return HostKeyMatch{*listed_in, key_text};
  if (other_in) {
    return Error{label + ": REFUSED: the host key does not match " + *other_in + " (server now presents " + key_text +
                     "). This can mean a man-in-the-middle attack. If the host was legitimately reinstalled, "
                     "confirm the new fingerprint out of band, then remove the old entry with ssh-keygen -R '" +
                     lookup + "' -f " + *other_in + " and add the new key.",
                 ErrorCode::kFailedPrecondition};
  }
  const std::string target = files.empty() ? std::string("~/.ssh/known_hosts") : files.front();
  return Error{label + ": REFUSED: the host key is not known: " + key_text + " is listed for " + lookup + " in " +
                   (read.empty() ? "no known_hosts file (none of " + list(files) + " exists)"
                                 : "none of " + list(read)) +
                   ". Nothing is trusted on first use: confirm this fingerprint with the host's administrator, then "
                   "add the key, e.g. ssh-keyscan -p " +
                   std::to_string(port) + " " + host + " >> " + target + " and compare the fingerprint it printed.",
               ErrorCode::kFailedPrecondition};
}

}  // namespace bluegreen::remote
