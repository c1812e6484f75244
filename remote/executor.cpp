#include "remote/executor.h"

#include "common/text.h"
#include "remote/shell_command.h"

#include <algorithm>
#include <cstdlib>
#include <random>

namespace bluegreen::remote {
namespace {

// The code of an Error caused by a command that did not succeed: why it ended says what to do.
bluegreen::ErrorCode code_of(const CommandResult& result) {
  if (result.cancelled) return bluegreen::ErrorCode::kCancelled;
  if (result.timed_out) return bluegreen::ErrorCode::kDeadlineExceeded;
  return bluegreen::ErrorCode::kFailed;
}

}  // namespace

std::string CommandResult::summary() const {
  const std::string took = std::to_string(duration.count()) + " ms";
  if (cancelled) return "cancelled after " + took;
  if (timed_out) return "timed out after " + took;
  if (!exit_status) return "no exit status after " + took + (problem.empty() ? "" : " (" + problem + ")");
  return "exit " + std::to_string(*exit_status) + " in " + took;
}

bluegreen::Result<SocketReply> Executor::query_unix_socket(const std::string& host, const std::string& socket_path,
                                                           const std::string& request, const CommandOptions& options) {
  return query_unix_socket_with_socat([&](const std::string& command,
                                          const CommandOptions& rest) { return run(host, command, rest); },
                                      host, socket_path, request, options);
}

bluegreen::Result<std::vector<FileRead>> Executor::read_files(const std::string& host,
                                                              const std::vector<std::string>& paths,
                                                              const CommandOptions& options, Piggyback* piggyback) {
  return read_files_with_cat([&](const std::string& command,
                                 const CommandOptions& rest) { return run(host, command, rest); },
                             host, paths, options, piggyback);
}

bluegreen::Result<SocketReply> query_unix_socket_with_socat(const CommandRunner& run, const std::string& host,
                                                            const std::string& socket_path, const std::string& request,
                                                            const CommandOptions& options) {
  // socat stops waiting 2 s after the request is sent or 5 s after the socket last spoke; the
  // deadline of run() bounds the whole call anyway.
  const std::string command =
      "printf '%s' " + shell_quote(request) + " | socat -t 2 -T 5 - UNIX-CONNECT:" + shell_quote(socket_path);
  auto result = run(command, options);
  if (!result) return result.error();
  const std::string what = "UNIX socket " + socket_path + " on " + host;
  if (!result->succeeded()) {
    std::string why = bluegreen::trim_trailing(result->err.tail.empty() ? result->out.tail : result->err.tail);
    if (why.size() > 400) why = why.substr(0, 400) + "...";
    if (result->exit_status && !why.empty()) return bluegreen::Error{"cannot query the " + what + ": " + why};
    return bluegreen::Error{"cannot query the " + what + ": " + result->summary() + (why.empty() ? "" : ": " + why),
                            code_of(*result)};
  }
  if (result->out.dropped > 0) {
    return bluegreen::Error{"the reply of the " + what + " exceeds " + std::to_string(options.output_cap_bytes) +
                            " bytes"};
  }
  return SocketReply{std::move(result->out.tail), result->duration, false};
}

namespace {

// A decimal number as stat and printf print them (seconds, an exit status); nullopt for anything
// else.
std::optional<std::int64_t> number_of(const std::string& digits) {
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

// One file's part of the `cat` script's output, starting the search at `at` (moved past it).
// `where` ("PATH on HOST") is for messages.
FileRead parse_file_part(const std::string& out, const std::string& tag, std::size_t cap_bytes, std::size_t& at,
                         const std::string& where) {
  const std::string open = tag + " file ";
  const std::string exit = "\n" + tag + " exit ";
  const std::string missing = "\n" + tag + " missing\n";
  FileRead file;
  const auto marker = out.find(open, at);
  const auto line_end = marker == std::string::npos ? marker : out.find('\n', marker + open.size());
  if (line_end == std::string::npos) {
    file.problem = "the output of reading " + where + " is incomplete";
    return file;
  }
  // "MTIME CTIME\n" follows the marker: empty when stat failed.
  const std::string times = out.substr(marker + open.size(), line_end - marker - open.size());
  const auto space = times.find(' ');
  const auto modified = number_of(times.substr(0, space));
  const auto changed = space == std::string::npos ? std::nullopt : number_of(times.substr(space + 1));
  const auto begin = line_end + 1;
  const auto end = out.find("\n" + tag + " ", begin);
  if (end == std::string::npos) {
    file.problem = "the output of reading " + where + " is incomplete";
  } else if (out.compare(end, missing.size(), missing) == 0) {
    file.missing = true;
    at = end + missing.size();
  } else if (out.compare(end, exit.size(), exit) == 0) {
    std::string content = out.substr(begin, end - begin);
    if (const int status = std::atoi(out.c_str() + end + exit.size()); status != 0) {
      file.problem = bluegreen::trim_trailing(content);
      if (file.problem.empty()) file.problem = "cat exited with status " + std::to_string(status);
      if (file.problem.size() > 400) file.problem = file.problem.substr(0, 400) + "...";
    } else if (content.size() > cap_bytes) {
      file.problem = "larger than " + std::to_string(cap_bytes) + " bytes";
    } else {
      file.content = std::move(content);
      file.modified_epoch_s = modified;
      file.changed_epoch_s = changed;
    }
    at = end + exit.size();
  } else {
    file.problem = "the output of reading " + where + " is garbled";
  }
  return file;
}

// One piggybacked command's part of the `cat` script's output ("TAG command\n<stdout>\nTAG
// stderr\n<stderr>\nTAG exit N\n"), starting the search at `at` (moved past it). A part cut short
// has no exit status, and `problem` says so.
CommandResult parse_command_part(const std::string& out, const std::string& tag, std::size_t& at) {
  const std::string open = tag + " command\n";
  const std::string err = "\n" + tag + " stderr\n";
  const std::string exit = "\n" + tag + " exit ";
  CommandResult result;
  const auto marker = out.find(open, at);
  const auto out_end = marker == std::string::npos ? marker : out.find(err, marker + open.size());
  const auto err_end = out_end == std::string::npos ? out_end : out.find(exit, out_end + err.size());
  const auto status_end = err_end == std::string::npos ? err_end : out.find('\n', err_end + exit.size());
  if (status_end == std::string::npos) {
    result.problem = "its output is incomplete";
    return result;
  }
  const auto begin = marker + open.size();
  result.out.tail = out.substr(begin, out_end - begin);
  result.err.tail = out.substr(out_end + err.size(), err_end - out_end - err.size());
  const std::string status = out.substr(err_end + exit.size(), status_end - err_end - exit.size());
  if (const auto value = number_of(status); value && *value < 256) result.exit_status = static_cast<int>(*value);
  else result.problem = "no exit status in its output";
  at = status_end + 1;
  return result;
}

// The script: per file "@@TAG file MTIME CTIME\n<content>\n@@TAG exit N\n", or
// "@@TAG file \n\n@@TAG missing\n" (the times: seconds since the epoch, from stat -L); per
// piggybacked command "@@TAG command\n<stdout>\n@@TAG stderr\n<stderr>\n@@TAG exit N\n". Its
// stdout goes straight out (through fd 3); its stderr is kept in a variable and printed after.
std::string cat_script(const std::string& tag, const std::vector<std::string>& paths,
                       const std::vector<std::string>& commands) {
  std::string script;
  for (const auto& path : paths) {
    const std::string file = shell_quote(path);
    script += "printf '" + tag + " file %s\\n' \"$(stat -L -c '%Y %Z' -- " + file + " 2>/dev/null)\"; if [ -e " + file +
              " ]; then cat -- " + file + " 2>&1; printf '\\n" + tag + " exit %s\\n' \"$?\"; else printf '\\n" + tag +
              " missing\\n'; fi; ";
  }
  for (const auto& command : commands) {
    // The command substitution is the subshell; `exec` with redirections only sets its streams.
    // (Debian 12's dash ignored the redirections of `{ ( cmd ) </dev/null; } 2>&1 1>&3` inside
    // $( ): cmd read the channel's input and wrote to the variable. cat_reader_test.cpp saw it.)
    script += "printf '" + tag + " command\\n'; { bg_e=$(exec 2>&1 >&3 3>&- </dev/null; " + command +
              "\n); bg_s=$?; } 3>&1; printf '\\n" + tag + " stderr\\n%s\\n" + tag +
              " exit %s\\n' \"$bg_e\" \"$bg_s\"; ";
  }
  return script;
}

}  // namespace

bluegreen::Result<std::vector<FileRead>> read_files_with_cat(const CommandRunner& run, const std::string& host,
                                                             const std::vector<std::string>& paths,
                                                             const CommandOptions& options, Piggyback* piggyback) {
  // The tag is random, so no file content or command output can fake a marker.
  std::random_device random;
  const std::string tag = "@@" + std::to_string(std::uniform_int_distribution<unsigned long long>()(random));
  const std::vector<std::string> no_commands;
  const auto& commands = piggyback ? piggyback->commands : no_commands;
  if (piggyback) {
    piggyback->ran = false;
    piggyback->results.clear();
  }
  CommandOptions cat_options = options;
  cat_options.host_timeout = false;  // `cat` of local files ends by itself; the deadline holds here
  cat_options.output_cap_bytes =
      options.output_cap_bytes * std::max<std::size_t>(1, paths.size() + commands.size()) + 4096;
  auto result = run(cat_script(tag, paths, commands), cat_options);
  if (!result) return result.error();
  if (!result->succeeded()) {
    return bluegreen::Error{"reading files on " + host + " did not finish: " + result->summary() +
                                (result->err.tail.empty() ? "" : ": " + bluegreen::trim_trailing(result->err.tail)),
                            code_of(*result)};
  }
  if (result->out.dropped > 0) {
    return bluegreen::Error{"reading files on " + host + ": together they exceed " +
                            std::to_string(cat_options.output_cap_bytes) + " bytes"};
  }
  std::vector<FileRead> files;
  std::size_t at = 0;
  for (const auto& path : paths) {
    files.push_back(parse_file_part(result->out.tail, tag, options.output_cap_bytes, at, path + " on " + host));
  }
  if (piggyback) {
    for (std::size_t i = 0; i < commands.size(); ++i) {
      auto part = parse_command_part(result->out.tail, tag, at);
      part.duration = result->duration;
      piggyback->results.push_back(std::move(part));
    }
    piggyback->ran = true;
  }
  return files;
}

}  // namespace bluegreen::remote
