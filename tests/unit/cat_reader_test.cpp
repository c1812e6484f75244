// remote::read_files_with_cat, the way files are read on a host without SFTP, run for real by the
// local /bin/sh on scratch files: each file's content and times, and the piggybacked commands'
// exit status, stdout and stderr, all from the one command.
#include "remote/executor.h"
#include "remote/shell_command.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("cat-reader-" + std::to_string(::getpid()));
  int commands = 0;  // how many commands the runner ran
  std::vector<remote::CommandOptions> options_seen;

  Scratch() { fs::create_directories(dir); }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  fs::path write(const std::string& name, const std::string& content) const {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  }

  // Runs a command line as sshd does, from `dir`: /bin/sh whose input stays open (an SSH channel
  // sends no end of input), here for 5 s: a command reading its input would wait that long.
  remote::CommandRunner runner() {
    return [this](const std::string& command, const remote::CommandOptions& options) {
      ++commands;
      options_seen.push_back(options);
      std::ofstream(dir / "command.sh") << command;
      const std::string line = "cd " + remote::shell_quote(dir.string()) + " && (sleep 5 &) | /bin/sh command.sh >" +
                               remote::shell_quote((dir / "out").string()) + " 2>" +
                               remote::shell_quote((dir / "err").string());
      const int status = std::system(line.c_str());  // NOLINT(cert-env33-c): the test runs its own script
      remote::CommandResult result;
      if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
      result.out.tail = read(dir / "out");
      result.err.tail = read(dir / "err");
      return bluegreen::Result<remote::CommandResult>(result);
    };
  }
};

struct Times {
  std::int64_t modified;
  std::int64_t changed;
};

Times times_of(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return {info.st_mtime, info.st_ctime};
}

}  // namespace

TEST_CASE("cat reads every file in one command, with its modification and status-change times", "[remote][cat]") {
  Scratch scratch;
  const auto plain = scratch.write("plain", "line 1\nno newline at the end");
  const auto empty = scratch.write("empty", "");
  // A marker with another tag, in the content: the random tag cannot be faked.
  const auto tricky = scratch.write("it's tricky", "@@123 exit 0\n@@123 file 1 2\n\n");
  fs::create_symlink(plain, scratch.dir / "link");
  fs::create_directory(scratch.dir / "a directory");
  // Set back as cp -p or touch -d do: the status-change time stays.
  const auto old = fs::last_write_time(plain) - std::chrono::hours(24 * 30);
  fs::last_write_time(plain, old);

  const std::vector<std::string> paths{plain.string(),
                                       empty.string(),
                                       tricky.string(),
                                       (scratch.dir / "link").string(),
                                       (scratch.dir / "missing").string(),
                                       (scratch.dir / "a directory").string()};
  remote::CommandOptions options;
  options.host_timeout = true;
  const auto files = remote::read_files_with_cat(scratch.runner(), "scratch", paths, options);
  REQUIRE(files.ok());
  REQUIRE(files->size() == paths.size());
  CHECK(scratch.commands == 1);
  CHECK_FALSE(scratch.options_seen.front().host_timeout);  // cat ends by itself

  const auto plain_times = times_of(plain);
  CHECK(files->at(0).content == "line 1\nno newline at the end");
  CHECK(files->at(0).modified_epoch_s == plain_times.modified);
  CHECK(files->at(0).changed_epoch_s == plain_times.changed);
  CHECK(*files->at(0).changed_epoch_s > *files->at(0).modified_epoch_s);  // the backdating shows
  CHECK(files->at(1).content.empty());
  CHECK(files->at(1).problem.empty());
  CHECK(files->at(2).content == "@@123 exit 0\n@@123 file 1 2\n\n");
  // A link: its target's content and times, as SFTP (FSTAT on the opened file) reports them.
  CHECK(files->at(3).content == files->at(0).content);
  CHECK(files->at(3).modified_epoch_s == plain_times.modified);
  CHECK(files->at(4).missing);
  CHECK_FALSE(files->at(5).missing);
  CHECK_FALSE(files->at(5).problem.empty());  // cat: Is a directory
  CHECK(files->at(5).content.empty());
}

TEST_CASE("piggybacked commands run in the same command, each in a subshell with no input", "[remote][cat]") {
  Scratch scratch;
  const auto file = scratch.write("file", "content\n");
  remote::Piggyback piggyback;
  piggyback.commands = {
      "echo out; echo err >&2; exit 3",
      "cd / && exec sh -c 'exit 75'",
      "pwd",  // not moved by the `cd` above
      "cat; printf 'no newline'",
      "printf 'trailing newlines on stderr\\n\\n' >&2 # a comment does not swallow the rest",
  };
  const auto started = std::chrono::steady_clock::now();
  const auto files = remote::read_files_with_cat(scratch.runner(), "scratch", {file.string()}, {}, &piggyback);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));  // `cat` below read nothing
  REQUIRE(files.ok());
  CHECK(scratch.commands == 1);
  CHECK(files->at(0).content == "content\n");
  REQUIRE(piggyback.ran);
  REQUIRE(piggyback.results.size() == 5);
  const auto& results = piggyback.results;
  CHECK(results[0].exit_status == 3);
  CHECK(results[0].out.tail == "out\n");
  CHECK(results[0].err.tail == "err");
  CHECK(results[1].exit_status == 75);
  CHECK(results[1].out.tail.empty());
  CHECK(results[2].exit_status == 0);
  CHECK(results[2].out.tail == scratch.dir.string() + "\n");
  CHECK(results[3].exit_status == 0);
  CHECK(results[3].out.tail == "no newline");  // `cat` had no input: it ended at once
  CHECK(results[4].exit_status == 0);
  CHECK(results[4].err.tail == "trailing newlines on stderr");
}

TEST_CASE("piggybacked commands are not reported as run when the command did not finish", "[remote][cat]") {
  remote::Piggyback piggyback;
  piggyback.commands = {"true"};
  piggyback.ran = true;  // left over from an earlier read: cleared
  piggyback.results.resize(1);
  const remote::CommandRunner timed_out = [](const std::string&, const remote::CommandOptions&) {
    remote::CommandResult result;
    result.timed_out = true;
    result.problem = "deadline";
    return bluegreen::Result<remote::CommandResult>(result);
  };
  const auto files = remote::read_files_with_cat(timed_out, "scratch", {"/etc/hostname"}, {}, &piggyback);
  REQUIRE_FALSE(files.ok());
  CHECK(files.error().code == bluegreen::ErrorCode::kDeadlineExceeded);
  CHECK_FALSE(piggyback.ran);
  CHECK(piggyback.results.empty());

  const remote::CommandRunner unreachable = [](const std::string&, const remote::CommandOptions&) {
    return bluegreen::Result<remote::CommandResult>(
        bluegreen::Error{"connection refused", bluegreen::ErrorCode::kUnavailable});
  };
  CHECK(remote::read_files_with_cat(unreachable, "scratch", {"/etc/hostname"}, {}, &piggyback).error().code ==
        bluegreen::ErrorCode::kUnavailable);
  CHECK_FALSE(piggyback.ran);
}
