#pragma once
// Every way an HAProxy configuration sends traffic to an app's backends, across all the files
// HAProxy loads, and rewriting all of them at once.
//
// A switch that rewrites one line while another frontend still routes to the old colour leaves
// one port serving each colour (the outage of seeds/000: HTTPS served the new version, HTTP the
// old one). So the unit here is the app's whole routing: every frontend and listen section (an
// *entry point*) whose traffic can reach the app's blue or green backend, and every line that
// decides it (a *route*):
//  - `default_backend NAME` in the entry point itself;
//  - `default_backend NAME` in the `defaults` section the entry point inherits from (the last one
//    before it, or the one `from NAME` names; a defaults section inherits from its own `from`),
//    when the entry point has none of its own;
//  - `use_backend NAME [if|unless COND]`, with or without a condition;
//  - an entry of a map file that a `use_backend %[...,map(FILE[,DEFAULT])]` line looks the
//    backend up in (HAProxy's map-based routing): the map's key and value.
// Lines that could route to the app but cannot be switched safely are reported, never guessed:
// a dynamic `use_backend %[...]` that is not a map lookup (in an entry point that routes to the
// app, or naming one of its backends or the start they share, or reading a variable that
// `set-var` fills from a map or with such a name), a backend written as an environment variable
// that leads (or may lead) to the app, a map whose default names one of the app's backends, and a
// route inside a `.if` block (conditions are not evaluated here).
//
// Files are given in HAProxy's load order (the master's `-f` arguments, directories expanded to
// their `*.cfg` files in lexical order). Sections do not continue from one file into the next;
// `defaults` sections do apply to the proxies of later files, as in HAProxy.
//
// Text is read as config_lines.h says. Thread-safety: pure functions and value types.

#include "common/result.h"

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::haproxy {

// One file of the effective configuration: its path on the load balancer and its whole text.
struct ConfigFile {
  std::string path;
  std::string text;
};

enum class RouteKind {
  kDefaultBackend,  // `default_backend` in the entry point or in the defaults it inherits
  kUseBackend,      // `use_backend` with a literal backend name
  kMapEntry,        // a map file's entry, looked up by a `use_backend %[...map(...)]` line
};

// One line that sends traffic to one of the app's backends.
struct Route {
  RouteKind kind = RouteKind::kDefaultBackend;
  std::string file;               // the config file, or for kMapEntry the map file
  std::size_t line_number = 0;    // 1-based, in `file`
  std::string line;               // the whole line as written, without its terminator
  std::string section;            // where the line is: "frontend fe_app", "defaults", "defaults web"; map: ""
  std::string backend;            // the backend it routes to now (HAProxy's reading: quotes removed)
  std::string condition;          // kUseBackend: the words after the name as written ("if is_app"), or ""
  std::string map_key;            // kMapEntry: the entry's key
  std::size_t backend_begin = 0;  // where the backend's word is in `line` (bytes, quotes included)
  std::size_t backend_end = 0;
};

// A frontend or listen section whose traffic reaches the app.
struct EntryPoint {
  std::string section;  // "frontend fe_https" or "listen www"
  std::string file;     // where the section starts
  std::size_t line_number = 0;
  std::vector<std::string> binds;   // the address word of each `bind` line, as written ("*:443", ":80,:8080")
  std::vector<std::size_t> routes;  // indexes into AppRoutes::routes: every route that applies here
};

// A line that could send traffic to the app but cannot be switched safely.
struct UnsupportedRoute {
  std::string file;
  std::size_t line_number = 0;
  std::string line;  // as written
  std::string why;   // what it is and why it is refused, with what to do
};

// A map lookup that decides an entry point's backend (`use_backend %[...map(FILE)...]`).
struct MapLookup {
  std::string map;   // the map file's path as written in the config
  std::string file;  // the config file of the use_backend line
  std::size_t line_number = 0;
  std::string line;
  std::string section;  // its entry point
};

struct AppRoutes {
  std::vector<EntryPoint> entry_points;  // in load order; only those with at least one route
  std::vector<Route> routes;             // each line once, in load order (map entries after the config)
  std::vector<UnsupportedRoute> unsupported;
  std::vector<MapLookup> map_lookups;     // every map lookup in every entry point (routing to the app or not)
  std::vector<std::string> missing_maps;  // map files looked up whose text was not given (read them and call again)
  std::vector<std::string> backends;      // every `backend NAME` and `listen NAME` defined, in load order, once
};

// Finds every route to `app_backends` (the app's blue and green backend names) in `files`.
// `map_texts`: the text of map files by path as written in the config; a looked-up map not given
// is listed in missing_maps (its entries are then unknown). `env`: the running HAProxy's
// environment (`show env`), to tell where a backend written as "${NAME}" leads; nullptr when it is
// not known (every such line is then unsupported, as it could lead to the app). A backend that
// comes from a variable is never switchable (the line does not name it): when it leads to the
// app it is unsupported. Never fails: what cannot be read as a route is in `unsupported`.
AppRoutes find_routes(const std::vector<ConfigFile>& files, const std::vector<std::string>& app_backends,
                      const std::map<std::string, std::string>& map_texts = {},
                      const std::map<std::string, std::string>* env = nullptr);

// One file a rewrite changes.
struct FileChange {
  std::string path;
  bool is_map = false;             // a map file (switched with the runtime API, written for reloads)
  std::string before;              // the whole text as read
  std::string after;               // the whole text rewritten
  std::vector<std::size_t> lines;  // the changed lines' numbers (1-based)
};

// Every route of `routes` rewritten to `new_backend`: one FileChange per file that changes, in
// the order the files were given (config files, then map files). Only each route's backend word
// (or a map entry's value) is replaced, inside its quotes when it was quoted ("blue" becomes
// "green"); every other byte of every file is kept (indentation, conditions, comments, CRLF
// terminators, a missing final newline). Routes already on
// `new_backend` are left alone; an empty result means nothing changes.
// Errors: `new_backend` not [A-Za-z0-9._:-]+ or not defined as a backend or listen section in
// `files` (a switch never points traffic nowhere); a route whose file text is not in `files` or
// `map_texts`, or whose line no longer reads as found (the texts changed since find_routes).
bluegreen::Result<std::vector<FileChange>> rewrite_routes(const std::vector<ConfigFile>& files,
                                                          const std::map<std::string, std::string>& map_texts,
                                                          const AppRoutes& routes, std::string_view new_backend);

// `text`'s lines as they are in a map file: key and value (the rest of the line, trimmed);
// comments (`#` at the start of a line) and blank lines skipped. Line numbers are 1-based.
struct MapEntry {
  std::size_t line_number = 0;
  std::string key;
  std::string value;
  std::size_t value_begin = 0;  // in the line, bytes
  std::size_t value_end = 0;
  std::string line;
};
std::vector<MapEntry> parse_map(std::string_view text);

}  // namespace bluegreen::haproxy
