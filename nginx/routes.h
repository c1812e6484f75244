#pragma once
// Every way an nginx configuration sends traffic to an app's upstreams, across all the files
// nginx loads, and rewriting all of them at once: nginx's counterpart of haproxy/routes.h.
//
// The app's colours are two `upstream` blocks (one per colour, e.g. `upstream shop_blue` and
// `upstream shop_green`), and the line that decides where traffic goes is a *route*:
//  - `proxy_pass http://NAME[/URI];` (or https://) naming one of them, in a `server`, a
//    `location` at any depth, or an `if` inside them (http module, ngx_http_proxy_module:
//    "If a domain name resolves to several addresses ... In addition, an address can be specified
//    as a server group");
//  - `proxy_pass NAME;` in a `server` of the `stream` module (ngx_stream_proxy_module).
// The `server` block a route is in is its *entry point* (its `listen` and `server_name` lines),
// like an HAProxy frontend: a switch must move every entry point, or one port keeps serving the
// old colour (the outage of seeds/000).
//
// Lines that could route to the app but cannot be switched safely are reported, never guessed:
//  - a `proxy_pass` whose address holds a variable, in an entry point of the app or while some
//    `map` or `set` value names one of the app's upstreams (nginx then picks the group per
//    request: "the server name is searched among the described server groups");
//  - a `map` whose values name one of the app's upstreams (seeds/003's cookie map: the colour is
//    chosen per request, not by one line);
//  - `set $variable NAME` naming one of them;
//  - `grpc_pass`, `fastcgi_pass`, `uwsgi_pass`, `scgi_pass` or `memcached_pass` naming one of them
//    (only proxy_pass is switched);
//  - a `proxy_pass` naming one of them with a port (`http://shop_blue:8080`: nginx then looks the
//    name up in DNS, not among the upstreams).
//
// `include` is followed as nginx follows it (ngx_conf_include in src/core/ngx_conf_file.c): a
// relative path is relative to the main file's directory (the configuration prefix), and a
// pattern with `*`, `?` or `[` matches the loaded files' paths as glob(3) would (sorted, `*` not
// matching `/` or a leading `.`). Only the files given are searched: `nginx -T` lists every file
// nginx loads (config_dump.h).
//
// Thread-safety: pure functions and value types.

#include "common/result.h"
#include "nginx/config_dump.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::nginx {

enum class Module { kHttp, kStream };

// One line that sends traffic to one of the app's upstreams.
struct Route {
  Module module = Module::kHttp;
  std::string file;
  std::size_t line_number = 0;  // 1-based
  std::string line;             // the line as written, without leading and trailing blanks
  std::string context;          // where it is: "http > server > location /api"
  std::string upstream;         // the upstream it names now, as written
  std::string app_upstream;     // the one of the app's upstream names it is (nginx compares them
                                // without regard to case: `http://BLUE` is upstream `blue`)
  std::size_t name_begin = 0;   // where that name is written in the file's text (bytes)
  std::size_t name_end = 0;
  std::size_t entry_point = 0;  // index into AppRoutes::entry_points: the first that includes it
};

// A `server` block whose traffic reaches the app.
struct EntryPoint {
  Module module = Module::kHttp;
  std::string file;
  std::size_t line_number = 0;            // of `server`
  std::vector<std::string> listens;       // each `listen` line's address word ("127.0.0.1:8080", "443")
  std::vector<std::string> server_names;  // every `server_name` word
  std::vector<std::size_t> routes;        // indexes into AppRoutes::routes (a file included by several
                                          // server blocks gives one route to each of them)
};

// A line that could send traffic to the app but cannot be switched safely.
struct UnsupportedRoute {
  std::string file;
  std::size_t line_number = 0;
  std::string line;
  std::string why;  // what it is and why it is refused, with what to do
};

// An `upstream` block.
struct Upstream {
  Module module = Module::kHttp;
  std::string name;
  std::string file;
  std::size_t line_number = 0;
  std::vector<std::string> servers;  // each `server` line's address word, as written
};

struct AppRoutes {
  std::vector<EntryPoint> entry_points;  // in load order; only those with at least one route
  std::vector<Route> routes;             // in load order
  std::vector<UnsupportedRoute> unsupported;
  std::vector<Upstream> upstreams;            // every upstream defined, in load order
  std::vector<std::string> missing_includes;  // `include` of a path with no pattern that is not among the files
  std::vector<std::string> problems;          // a file that does not parse ("FILE:LINE: ..."), an include loop
};

// Every route to `app_upstreams` (the app's blue and green upstream names) in `files`, starting at
// files[0] (the main file, as `nginx -T` prints it first). Upstream names are compared without
// regard to case, as nginx compares them (ngx_http_upstream_add: ngx_strncasecmp). A line reached
// through several includes is one route. Never fails: what cannot be read as a route is in
// `unsupported` or `problems`.
AppRoutes find_routes(const std::vector<ConfigFile>& files, const std::vector<std::string>& app_upstreams);

// One file a rewrite changes.
struct FileChange {
  std::string path;
  std::string before;              // the whole text as read
  std::string after;               // the whole text rewritten
  std::vector<std::size_t> lines;  // the changed lines' numbers (1-based)
};

// Every route of `routes` rewritten to `new_upstream`: one FileChange per file that changes, in
// the order of `files`. Only each route's upstream name is replaced (inside quotes when the word
// was quoted, the URI after it kept); every other byte of every file is kept. Routes already on
// `new_upstream` are left alone; an empty result means nothing changes.
// Errors (kInvalidArgument): `new_upstream` not [A-Za-z0-9._-]+, or not defined as an upstream of
// the module of a route that would name it (a switch never points traffic nowhere); a route whose
// file is not in `files`, or whose bytes no longer read as found (the texts changed since
// find_routes).
bluegreen::Result<std::vector<FileChange>> rewrite_routes(const std::vector<ConfigFile>& files, const AppRoutes& routes,
                                                          std::string_view new_upstream);

}  // namespace bluegreen::nginx
