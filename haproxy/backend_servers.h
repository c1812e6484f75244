#pragma once
// The servers a configuration gives a backend: each `server NAME ADDRESS ...` line of a `backend`
// or `listen` section (HAProxy 2.6 configuration manual, 5.2 "Server and default-server
// options"), across every file HAProxy loads, in load order. What a pool is compared with when
// HAProxy's stats socket cannot tell which servers it runs (deployment/pools.h).
//
// Thread-safety: pure function.

#include "haproxy/routes.h"

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace bluegreen::haproxy {

struct BackendServer {
  std::string name;     // "" for a server-template line (its servers are named at run time)
  std::string address;  // as written: "10.0.0.1:8080", "app1.internal:3000", "${ADDR}" ...
  std::string file;
  std::size_t line_number = 0;
};

// The server lines of each of `backends` (names of backend or listen sections; a name defined
// several times gathers them all) in `files`, keyed by backend name. A backend without server
// lines maps to an empty list; a name not defined at all is absent. Lines inside `.if` blocks are
// counted (they may be loaded).
std::map<std::string, std::vector<BackendServer>> backend_servers(const std::vector<ConfigFile>& files,
                                                                  const std::vector<std::string>& backends);

}  // namespace bluegreen::haproxy
