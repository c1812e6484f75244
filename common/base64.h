#pragma once
// Standard base64 (RFC 4648, with padding). Used to carry file contents inside remote command
// lines as inert text (`printf %s <b64> | base64 -d > file`), whatever bytes they hold.

#include <string>
#include <string_view>

namespace bluegreen {

inline std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  unsigned value = 0;
  int bits = -6;
  for (const char c : data) {
    value = ((value << 8U) | static_cast<unsigned char>(c)) & 0xFFFFFFU;
    bits += 8;
    while (bits >= 0) {
      out += kAlphabet[(value >> static_cast<unsigned>(bits)) & 63U];
      bits -= 6;
    }
  }
  if (bits > -6) out += kAlphabet[((value << 8U) >> static_cast<unsigned>(bits + 8)) & 63U];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

}  // namespace bluegreen
