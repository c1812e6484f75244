#pragma once
// Internal to remote/: what bluegreen-mcp does with each ssh_config(5) directive, as `ssh -G`
// names it (lower case). ssh_config.cpp applies it to every option a config sets (whose value
// differs from OpenSSH's default); README's SSH section lists the same table.
//
// Thread-safety: constant data.

#include <string_view>
#include <vector>

namespace bluegreen::remote {

enum class DirectiveUse {
  kHonoured,  // applied as OpenSSH applies it
  kForced,    // host-key safety: bluegreen-mcp always behaves one way whatever the value
  kIgnored,   // does not change where or how the connection is made; noted, not applied
  kRefused,   // would change the route or the checks and is not supported: the connection fails
};

struct DirectiveRule {
  std::string_view keyword;  // as `ssh -G` prints it
  DirectiveUse use;
  std::string_view why;  // for kForced/kIgnored: why it is safe; for kRefused: what to do
  // The value (as ssh -G prints it) at which the directive asks for what bluegreen-mcp does
  // anyway: no note then (StrictHostKeyChecking yes, BatchMode yes, ...). Empty: none.
  std::string_view same_as = {};
};

// The rule for `keyword`. A keyword not in the table (a newer OpenSSH's) is refused.
DirectiveRule directive_rule(std::string_view keyword);

// Every rule, in the table's order (for documentation and tests).
const std::vector<DirectiveRule>& directive_rules();

}  // namespace bluegreen::remote
