#pragma once
// Host names and addresses as the HTTP listeners (the approval page, the Streamable HTTP
// transport) check them: whether a host is loopback, and host:port as a Host header or a URL's
// authority writes it (RFC 3986 section 3.2.2: an IPv6 address in brackets).
//
// Thread-safety: pure functions.

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <string>

namespace bluegreen::host {

// Whether `host` is a loopback address: "localhost", an IPv4 address in 127.0.0.0/8 (dotted quad),
// or ::1. Names other than "localhost" are not resolved: they are not loopback.
inline bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  std::array<unsigned char, 4> v4{};
  if (inet_pton(AF_INET, host.c_str(), v4.data()) == 1) return v4[0] == 127;
  std::array<unsigned char, 16> v6{};
  if (inet_pton(AF_INET6, host.c_str(), v6.data()) == 1) {
    constexpr std::array<unsigned char, 16> kLoopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return v6 == kLoopback;
  }
  return false;
}

// host:port as in a Host header or a URL's authority; an IPv6 address in brackets ([::1]:8080).
inline std::string authority_of(const std::string& host, int port) {
  const std::string name = host.find(':') == std::string::npos ? host : "[" + host + "]";
  return name + ":" + std::to_string(port);
}

}  // namespace bluegreen::host
