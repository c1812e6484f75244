#include "mcp/request_state.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <vector>

namespace bluegreen::mcp {
namespace {

std::string hex(const unsigned char* data, std::size_t size) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4U];
    out += kDigits[data[i] & 0xfU];
  }
  return out;
}

std::string random_bytes(std::size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    throw std::runtime_error("OpenSSL's random generator failed (RAND_bytes)");
  }
  return bytes;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RequestStates& RequestStates::process() {
  static RequestStates states;
  return states;
}

RequestStates::RequestStates() : key_(random_bytes(32)) {}

std::string RequestStates::seal(std::string_view head, std::string_view binding) const {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(binding.data(), binding.size(), digest.data(), &length, EVP_sha256(), nullptr);
  const std::string message = std::string(head) + "." + hex(digest.data(), digest.size());
  std::array<unsigned char, 32> mac{};
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac.data(), &length);
  return hex(mac.data(), mac.size());
}

std::string RequestStates::issue(std::string_view binding, std::chrono::milliseconds ttl) {
  ttl = std::clamp<std::chrono::milliseconds>(ttl, std::chrono::seconds(1), std::chrono::hours(24));
  const std::string nonce_bytes = random_bytes(16);
  const std::string head = "v1." + std::to_string(now_ms() + ttl.count()) + "." +
                           hex(reinterpret_cast<const unsigned char*>(nonce_bytes.data()), nonce_bytes.size());
  return head + "." + seal(head, binding);
}

RequestStates::Verdict RequestStates::redeem(std::string_view state, std::string_view binding) {
  // v1.<expiry>.<nonce>.<mac>
  if (state.size() > 200 || state.substr(0, 3) != "v1.") return Verdict::kForged;
  const auto mac_dot = state.rfind('.');
  const auto nonce_dot = state.rfind('.', mac_dot - 1);
  if (nonce_dot == std::string_view::npos || nonce_dot <= 3 || mac_dot - nonce_dot != 33) return Verdict::kForged;
  const std::string_view head = state.substr(0, mac_dot);
  const std::string_view mac = state.substr(mac_dot + 1);
  const std::string expected = seal(head, binding);
  if (mac.size() != expected.size() || CRYPTO_memcmp(mac.data(), expected.data(), expected.size()) != 0) {
    return Verdict::kForged;
  }
  std::int64_t expiry = 0;
  const std::string_view expiry_text = state.substr(3, nonce_dot - 3);
  if (std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expiry).ec != std::errc{}) {
    return Verdict::kForged;
  }
  if (now_ms() > expiry) return Verdict::kExpired;
  const std::string nonce(state.substr(nonce_dot + 1, 32));
  std::lock_guard lock(mutex_);
  if (used_.count(nonce) != 0) return Verdict::kUsed;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = used_.begin(); it != used_.end();) it = it->second < now ? used_.erase(it) : std::next(it);
  if (used_.size() >= kMaxUsed) {
    used_.erase(
        std::min_element(used_.begin(), used_.end(), [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  used_.emplace(nonce, now + std::chrono::milliseconds(expiry - now_ms()));
  return Verdict::kValid;
}

const char* to_string(RequestStates::Verdict verdict) {
  switch (verdict) {
    case RequestStates::Verdict::kValid: return "valid";
    case RequestStates::Verdict::kForged: return "not sealed by this server for this question";
    case RequestStates::Verdict::kExpired: return "expired";
    case RequestStates::Verdict::kUsed: return "already used";
  }
  return "unknown";
}

}  // namespace bluegreen::mcp
