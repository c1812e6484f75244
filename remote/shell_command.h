#pragma once
// Quoting and validation for remote command lines: every value put into a command line goes
// through shell_quote(), and values that come from tool calls are first checked by a validator.
//
// Values that come from tool calls (git refs, app names, paths) are checked against strict
// patterns and then POSIX-single-quoted; nothing untrusted is ever pasted into a command line.
// Command text from the operator's own configuration file (deploy steps, reload commands) is
// trusted as shell; substitute_placeholders() fills its {placeholders} with quoted values. The
// scripts themselves are built where their meaning lives (deployment/lb_scripts.cpp for the
// switch, state/state_store.cpp for the state file and lock), each with unit tests.
//
// Thread-safety: pure functions and value types.

#include "common/result.h"

#include <map>
#include <string>
#include <string_view>

namespace bluegreen::remote {

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

}  // namespace bluegreen::remote
