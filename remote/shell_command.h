#pragma once
// The one place where remote command lines are built.
//
// Values that come from tool calls (git refs, app names, paths) are checked against strict
// patterns and then POSIX-single-quoted; nothing untrusted is ever pasted into a command line.
// Command text from the operator's own configuration file (deploy steps, reload commands) is
// trusted as shell and passed through ShellCommand::trusted().
//
// Thread-safety: pure functions and value types.

#include "common/result.h"

#include <map>
#include <string>
#include <string_view>

namespace remote {

// 'value' with every ' written as '\'' : safe for any byte string in a POSIX shell.
std::string shell_quote(std::string_view value);

// Validators: each returns the value when acceptable, else an error naming `field`, what was
// wrong and what is accepted. All of them refuse a leading '-' (it would read as an option),
// control characters, whitespace and shell metacharacters.
bluegreen::Result<std::string> validate_git_ref(std::string_view value, std::string_view field);
bluegreen::Result<std::string> validate_name(std::string_view value, std::string_view field);
bluegreen::Result<std::string> validate_absolute_path(std::string_view value, std::string_view field);

// Replaces each {name} in trusted command text (from the operator's config) with the
// single-quoted value from `values`; placeholders without a value are left as they are.
std::string substitute_placeholders(std::string_view trusted_text, const std::map<std::string, std::string>& values);

// A command line assembled from trusted text and quoted arguments.
class ShellCommand {
 public:
  // Text the operator wrote in the configuration file; used verbatim.
  static ShellCommand trusted(std::string text);

  // Appends a space and the quoted value (validate it first when it is untrusted).
  ShellCommand& arg(std::string_view value);
  // Appends trusted text verbatim (operators such as "&&", or configured commands).
  ShellCommand& then(std::string_view trusted_text);

  [[nodiscard]] const std::string& str() const { return text_; }

 private:
  std::string text_;
};

}  // namespace remote
