// End-to-end tests of reading a host's deployed commit (deployment/deployed_commit.h) against
// real git repositories on the lab's BLUE host: the answer must be git's own, in every layout,
// and `git log` must run only for a commit not seen before.
#include "deployment/deployed_commit.h"
#include "remote/shell_command.h"
#include "remote/ssh_executor.h"
#include "tests/support/lab_env.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

using namespace std::chrono_literals;

namespace {

remote::SshSettings settings_for(const labenv::Lab& lab) {
  remote::SshSettings settings;
  settings.config_file = "/dev/null";
  settings.known_hosts_file = lab.known_hosts;
  settings.identity_files = {lab.key};
  settings.connect_timeout = 5s;
  return settings;
}

// The real executor, counting the commands it starts on hosts.
class CountingExecutor final : public remote::Executor {
 public:
  explicit CountingExecutor(remote::Executor& inner) : inner_(inner) {}
  bluegreen::Result<remote::CommandResult> run(const std::string& host, const std::string& command,
                                               const remote::CommandOptions& options) override {
    ++commands;
    return inner_.run(host, command, options);
  }
  bluegreen::Result<std::unique_ptr<remote::HeldProcess>> hold(const std::string& host, const std::string& command,
                                                               const std::string& ready_line,
                                                               const remote::CommandOptions& options) override {
    ++commands;
    return inner_.hold(host, command, ready_line, options);
  }
  bluegreen::Result<std::vector<remote::FileRead>> read_files(const std::string& host,
                                                              const std::vector<std::string>& paths,
                                                              const remote::CommandOptions& options,
                                                              remote::Piggyback* piggyback = nullptr) override {
    auto files = inner_.read_files(host, paths, options, piggyback);
    if (piggyback && piggyback->ran) ++commands;  // read with cat: a command with what rode along
    return files;
  }
  std::atomic<int> commands{0};

 private:
  remote::Executor& inner_;
};

struct Repos {
  const labenv::Lab lab;
  remote::SshExecutor ssh{settings_for(lab)};
  const std::string host = lab.blue();
  const std::string root = "/tmp/bluegreen-e2e-commit-" + std::to_string(::getpid());

  Repos() { sh("rm -rf " + q(root) + " && mkdir -p " + q(root)); }
  ~Repos() { (void)ssh.run(host, "rm -rf " + q(root), options()); }

  static std::string q(const std::string& text) { return remote::shell_quote(text); }
  static remote::CommandOptions options() {
    remote::CommandOptions options;
    options.deadline = 20s;
    return options;
  }
  std::string sh(const std::string& command) {
    auto result = ssh.run(host, command, options());
    INFO(command << (result ? "\n" + result->err.tail : " " + result.error().message));
    REQUIRE(result);
    REQUIRE(result->succeeded());
    return result->out.tail;
  }
  // A repository with two commits on `main`.
  std::string make_repo(const std::string& name) {
    const std::string dir = root + "/" + name;
    const std::string git = "git -C " + q(dir) + " -c user.name=e2e -c user.email=e2e@example.invalid ";
    sh("git init -q -b main " + q(dir) + " && " + git + "commit -q --allow-empty -m first && " + git +
       "commit -q --allow-empty -m 'second: the deployed one'");
    return dir;
  }
  std::string git_head(const std::string& dir) {
    auto text = sh("git -C " + q(dir) + " rev-parse HEAD");
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  config::HostConfig host_config(const std::string& dir) const {
    config::HostConfig config;
    config.ssh = host;
    config.app_dir = dir;
    return config;
  }
};

}  // namespace

TEST_CASE("the deployed commit is git's HEAD in every layout, and git runs once per new commit",
          "[e2e][deployed-commit]") {
  Repos repos;
  CountingExecutor executor(repos.ssh);
  deployment::CommitCache cache;

  const auto read = [&](const std::string& dir) {
    auto commit = deployment::read_deployed_commit(executor, cache, repos.host_config(dir), 10s);
    INFO(dir << (commit ? "" : ": " + commit.error().message));
    REQUIRE(commit);
    return commit.value();
  };

  SECTION("a branch with a loose ref, then packed, then detached as deploys check out") {
    const auto dir = repos.make_repo("branch");
    const auto first = read(dir);
    CHECK(first.hash == repos.git_head(dir));
    CHECK(first.subject == "second: the deployed one");
    CHECK(first.date.size() >= 19);
    CHECK(executor.commands == 1);  // a new commit: git log once

    CHECK(read(dir).hash == first.hash);
    CHECK(executor.commands == 1);  // known commit: from .git's files, no process on the host

    repos.sh("git -C " + Repos::q(dir) + " pack-refs --all && test ! -e " + Repos::q(dir + "/.git/refs/heads/main"));
    CHECK(read(dir).hash == first.hash);
    CHECK(executor.commands == 1);

    repos.sh("git -C " + Repos::q(dir) + " checkout -q --detach HEAD~1");
    const auto detached = read(dir);
    CHECK(detached.hash == repos.git_head(dir));
    CHECK(detached.hash != first.hash);
    CHECK(detached.subject == "first");
    CHECK(executor.commands == 2);  // another commit: git log once more
    CHECK(read(dir).hash == detached.hash);
    CHECK(executor.commands == 2);
  }

  SECTION("a worktree (.git is a file) and a directory below the top: git decides, same answer") {
    const auto dir = repos.make_repo("main");
    const auto worktree = repos.root + "/worktree";
    repos.sh("git -C " + Repos::q(dir) + " worktree add -q --detach " + Repos::q(worktree) + " HEAD~1 && mkdir -p " +
             Repos::q(dir + "/sub"));
    CHECK(read(worktree).hash == repos.git_head(worktree));
    CHECK(read(worktree).subject == "first");
    CHECK(read(dir + "/sub").hash == repos.git_head(dir));
  }

  SECTION("a directory that is not a repository: git's own error, naming the directory and host") {
    repos.sh("mkdir -p " + Repos::q(repos.root + "/plain"));
    auto commit = deployment::read_deployed_commit(executor, cache, repos.host_config(repos.root + "/plain"), 10s);
    REQUIRE_FALSE(commit);
    CHECK_THAT(commit.error().message,
               Catch::Contains("cannot read the deployed commit in " + repos.root + "/plain on " + repos.host) &&
                   Catch::Contains("not a git repository"));
  }

  SECTION("a branch with no commit yet (unborn): an error, not a guess") {
    repos.sh("git init -q -b main " + Repos::q(repos.root + "/empty"));
    auto commit = deployment::read_deployed_commit(executor, cache, repos.host_config(repos.root + "/empty"), 10s);
    REQUIRE_FALSE(commit);
    CHECK_THAT(commit.error().message, Catch::Contains("cannot read the deployed commit"));
  }
}
