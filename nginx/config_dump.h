#pragma once
// The files of nginx's effective configuration, from what `nginx -T` prints: for each file nginx
// loads (the main file first, then each included file once, in the order nginx reads them), the
// line "# configuration file PATH:", the file's bytes, and one more line feed (ngx_dump_config in
// src/core/nginx.c of nginx 1.22; nginx(8): "-T: same as -t, but additionally dump configuration
// files to standard output").
//
// A file's text may itself hold a line that looks like that header. With the files' sizes (from
// `stat`), the dump is cut exactly and such a line is part of its file; without them, every such
// line starts a file.
//
// Thread-safety: pure functions and value types.

#include "common/result.h"

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::nginx {

// One file of the effective configuration: its path on the load balancer and its whole text.
struct ConfigFile {
  std::string path;
  std::string text;
};

// The files of `dump` (nginx -T's standard output), in its order. `sizes`: each path's size in
// bytes, or empty to cut at header lines.
// Errors (kFailed): no header at the start (not nginx -T output: nginx's first lines are quoted),
// a file without its final line feed, a path in the dump without a size in a non-empty `sizes`,
// or a size that runs past the dump or is not followed by a header or the end (the files changed
// between the dump and the stat: read again).
bluegreen::Result<std::vector<ConfigFile>> split_config_dump(std::string_view dump,
                                                             const std::map<std::string, std::size_t>& sizes = {});

}  // namespace bluegreen::nginx
