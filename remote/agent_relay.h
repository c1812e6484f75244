#pragma once
// Internal to remote/: stands between libssh and an ssh-agent while a session authenticates, so
// that IdentitiesOnly holds with an agent (libssh 0.10 offers every key an agent holds) and the
// error says which keys were really offered.
//
// libssh talks to the relay over a socket pair (ssh_set_agent_socket()); the relay talks to the
// agent's UNIX socket. It answers only the two requests authentication makes (the agent
// protocol, draft-miller-ssh-agent section 4.4 and 4.5): REQUEST_IDENTITIES, answered with the
// agent's keys (the IdentityFiles' first; with IdentitiesOnly only those), and SIGN_REQUEST,
// passed on only for a key that may be offered.
// Anything else is answered with FAILURE. No key material passes through it: only public keys,
// the data to sign and the signature.
//
// Thread-safety: one thread (the relay's) serves libssh; offered(), signed_key() and agent_keys()
// may be called from the owner's thread at any time. The destructor stops and joins the thread.

#include "common/result.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bluegreen::remote {

class AgentRelay {
 public:  // Connects to the agent at `socket_path` (within 5 s) and starts serving. `preferred`: the
  // public keys (base64 blobs, as in a .pub file's second field) of the IdentityFiles, offered
  // first and in that order, as ssh(1) does, so a full agent does not exhaust the server's
  // MaxAuthTries before the right key. `identities_only`: offer only those. Errors: kUnavailable
  // when the agent cannot be reached (the message names the path and what to check).
  static bluegreen::Result<std::unique_ptr<AgentRelay>> open(const std::string& socket_path,
                                                             std::vector<std::string> preferred, bool identities_only);
  ~AgentRelay();
  AgentRelay(const AgentRelay&) = delete;
  AgentRelay& operator=(const AgentRelay&) = delete;

  // The descriptor to give libssh (ssh_set_agent_socket); libssh closes it. Call once.
  int take_libssh_fd();

  [[nodiscard]] std::vector<std::string> offered() const;               // keys offered so far, "type SHA256:..."
  [[nodiscard]] std::optional<std::string> signed_key() const;          // the key the server accepted
  [[nodiscard]] std::size_t agent_keys() const { return agent_keys_; }  // keys the agent holds

 private:
  AgentRelay(int agent_fd, int own_fd, int libssh_fd, std::vector<std::string> preferred, bool identities_only);
  void serve();
  bool handle(const std::string& request, std::string& reply);
  [[nodiscard]] bool allowed(const std::string& blob) const;
  [[nodiscard]] std::size_t rank(const std::string& blob) const;  // position in preferred_, or its size

  int agent_fd_;
  int own_fd_;
  int libssh_fd_;
  const std::vector<std::string> preferred_;
  const bool identities_only_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> agent_keys_{0};
  mutable std::mutex mutex_;  // guards offered_ and signed_
  std::vector<std::string> offered_;
  std::optional<std::string> signed_;
  std::thread thread_;
};

// The base64 public key blob of an IdentityFile (from FILE.pub, FILE itself when it is a public
// key, or the unencrypted private key); nullopt when none can be read.
std::optional<std::string> identity_public_blob(const std::string& file);

}  // namespace bluegreen::remote
