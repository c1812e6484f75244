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
                                                              const CommandOptions& options) {
  return read_files_with_cat([&](const std::string& command,
                                 const CommandOptions& rest) { return run(host, command, rest); },
                             host, paths, options);
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

// One file's part of the `cat` script's output, starting the search at `at` (moved past it).
// `where` ("PATH on HOST") is for messages.
FileRead parse_cat_output(const std::string& out, const std::string& tag, std::size_t cap_bytes, std::size_t& at,
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
  // "MTIME\n" follows the marker: empty when stat failed.
  const std::string digits = out.substr(marker + open.size(), line_end - marker - open.size());
  std::optional<std::int64_t> modified;
  if (!digits.empty() && digits.size() <= 18 && digits.find_first_not_of("0123456789") == std::string::npos) {
    modified = std::stoll(digits);
  }
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
    }
    at = end + exit.size();
  } else {
    file.problem = "the output of reading " + where + " is garbled";
  }
  return file;
}

}  // namespace

bluegreen::Result<std::vector<FileRead>> read_files_with_cat(const CommandRunner& run, const std::string& host,
                                                             const std::vector<std::string>& paths,
                                                             const CommandOptions& options) {
  // Per file: "@@TAG file MTIME\n<content>\n@@TAG exit N\n", or "@@TAG file \n\n@@TAG missing\n"
  // (MTIME: seconds since the epoch, from stat). The tag is random, so no file content can fake a
  // marker.
  std::random_device random;
  const std::string tag = "@@" + std::to_string(std::uniform_int_distribution<unsigned long long>()(random));
  std::string script;
  for (const auto& path : paths) {
    const std::string file = shell_quote(path);
    script += "printf '" + tag + " file %s\\n' \"$(stat -c %Y -- " + file + " 2>/dev/null)\"; if [ -e " + file +
              " ]; then cat -- " + file + " 2>&1; printf '\\n" + tag + " exit %s\\n' \"$?\"; else printf '\\n" + tag +
              " missing\\n'; fi; ";
  }
  CommandOptions cat_options = options;
  cat_options.host_timeout = false;  // `cat` of local files ends by itself; the deadline holds here
  cat_options.output_cap_bytes = options.output_cap_bytes * std::max<std::size_t>(1, paths.size()) + 4096;
  auto result = run(script, cat_options);
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
    files.push_back(parse_cat_output(result->out.tail, tag, options.output_cap_bytes, at, path + " on " + host));
  }
  return files;
}

}  // namespace bluegreen::remote
