#pragma once
// Internal to remote/: where in the ssh config files a directive was set, so that a refusal or a
// note names the file and line (ssh_config.h). OpenSSH's `ssh -G` prints the effective values
// only; with -vvv it also says which Host and Match lines applied. The files are then walked in
// OpenSSH's parse order (an Include, in a block that applies, is read where it stands) and the
// first line that sets the directive in a block that applies is the one OpenSSH used (first
// value wins).
//
// Thread-safety: pure functions (origin_of() reads files and globs; glob(3) calls are serialised).

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace bluegreen::remote {

// What `ssh -G -vvv` says about how it read the config.
struct ConfigTrace {
  std::set<std::pair<std::string, int>> active_blocks;  // Host/Match lines that applied (file, line)
};

// Reads the trace from `ssh -G -vvv`'s standard error (lines "debugN: FILE line N: Applying
// options for ...", "... matched ...", "match found"; CR LF or LF line ends).
ConfigTrace parse_trace(const std::string& stderr_text);

// "file:line" of the first line that sets `keyword` (lower case, as ssh -G prints it) in a block
// that applies, walking `top_files` (the -F file, or ~/.ssh/config then /etc/ssh/ssh_config) and
// their Includes in parse order; `home` is the user's home (for ~ and relative Includes of user
// files). Empty when no such line is found (the value came from a default or the command line).
std::string origin_of(const ConfigTrace& trace, const std::vector<std::string>& top_files, bool first_is_user_file,
                      const std::string& home, const std::string& keyword);

}  // namespace bluegreen::remote
