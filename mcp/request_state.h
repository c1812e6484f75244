#pragma once
// The requestState of protocol 2026-07-28's multi-round-trip pattern (basic/patterns/mrtr): what
// the server hands the client with an input_required result, and takes back, byte for byte, when
// the client retries the request with the human's answer.
//
// The state is attacker-controlled input, and here it carries an approval, so (mrtr "Server
// Requirements"): it is HMAC-SHA256-sealed with a key of 32 random bytes made once per process
// (OpenSSL RAND_bytes; a restarted server refuses every earlier state); it expires; it is bound to
// what it answers (`binding`: the tool, the client and the question, e.g. a switch plan's identity),
// which is not in the state itself; and it is single-use: a state redeemed once is refused after.
// Format: "v1.<expiry, ms of the steady clock>.<nonce, 32 hex>.<HMAC, 64 hex>", the HMAC over
// "v1.<expiry>.<nonce>.<SHA-256 of the binding, hex>". Nothing secret is in it.
//
// Thread-safety: all methods may be called from any thread.

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace bluegreen::mcp {

class RequestStates {
 public:
  enum class Verdict {
    kValid,    // sealed by this process, unexpired, unused, for this binding: now used
    kForged,   // not a state of this process (malformed, or the HMAC does not match this binding)
    kExpired,  // past its expiry
    kUsed,     // redeemed before
  };

  // The process's one instance (one key, one record of used states).
  static RequestStates& process();

  // A new state for `binding`, valid for `ttl` (at least 1 s, at most a day).
  std::string issue(std::string_view binding, std::chrono::milliseconds ttl);
  // Checks `state` against `binding` and, when valid, marks it used.
  Verdict redeem(std::string_view state, std::string_view binding);

  // States remembered as used at most; past it the oldest record is forgotten (its state has
  // expired by then unless ttl is very long, and an expired state is refused anyway).
  static constexpr std::size_t kMaxUsed = 10000;

 private:
  RequestStates();
  std::string seal(std::string_view head, std::string_view binding) const;

  std::string key_;  // 32 random bytes
  std::mutex mutex_;
  std::map<std::string, std::chrono::steady_clock::time_point> used_;  // nonce -> expiry
};

const char* to_string(RequestStates::Verdict verdict);

}  // namespace bluegreen::mcp
