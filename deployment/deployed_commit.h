#pragma once
// Which commit is checked out in a host's app directory, with its date and subject.
//
// Starting `git log` on the host costs a process start (several milliseconds, most of a warm
// status call), so the commit is found the way git itself finds it: `.git/HEAD`, then the loose
// ref or `packed-refs` it names, read with Executor::read_files (SFTP: no process on the host).
// A commit's date and subject never change for its hash, so they are kept in a CommitCache and
// `git log` runs only for a commit not seen before. Anything that is not the plain layout (a
// `.git` file of a worktree or submodule, a symbolic ref to a symbolic ref, an app directory below
// the repository's top, an unborn branch, ...) is left to `git log`, which knows every layout and
// says what is wrong.
//
// Where the host has no SFTP, reading files starts a process anyway (`cat`), so `git log` rides
// along in that same process (Executor::read_files' Piggyback): one process per host and call,
// however the layout looks and whatever the cache knows, instead of one per file read and one for
// git.

#include "common/result.h"
#include "config/config.h"
#include "remote/executor.h"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::deployment {

struct DeployedCommit {
  std::string hash;
  std::string date;     // committer date, ISO 8601
  std::string subject;  // first line of the message
};

// Commit details by hash (immutable, so never stale). Thread-safe; bounded.
class CommitCache {
 public:
  std::optional<DeployedCommit> find(const std::string& hash) const;
  void remember(const DeployedCommit& commit);

 private:
  static constexpr std::size_t kMaxEntries = 4096;
  mutable std::mutex mutex_;
  std::map<std::string, DeployedCommit> entries_;
};

// What a ref file says: a commit hash (40 or 64 hex digits), or the name of the ref it points to
// ("ref: refs/heads/main"), or neither (nullopt both).
struct RefText {
  std::optional<std::string> hash;
  std::optional<std::string> symbolic;  // only names under refs/ without "..", as git writes them
};
RefText parse_ref_text(const std::string& raw);

// The hash `ref` has in a packed-refs file's text, if it is listed.
std::optional<std::string> find_packed_ref(const std::string& packed_refs, const std::string& ref);

// The commit checked out in host.app_dir on host.ssh, within `timeout`. An Error says what went
// wrong and where (the host cannot be reached: the executor's code; otherwise kFailed).
bluegreen::Result<DeployedCommit> read_deployed_commit(remote::Executor& executor, CommitCache& cache,
                                                       const config::HostConfig& host,
                                                       std::chrono::milliseconds timeout);

// The same for several app directories on one host (every hosts[i]->ssh is the same; nullptr is
// not allowed), read together: every HEAD in one read_files() call (so, without SFTP, one process
// on the host for all of them). One result per entry of `hosts`, in order; all of them carry the
// same Error when the host cannot be read. Empty `hosts`: no call, no result.
std::vector<bluegreen::Result<DeployedCommit>> read_deployed_commits(
    remote::Executor& executor, CommitCache& cache, const std::vector<const config::HostConfig*>& hosts,
    std::chrono::milliseconds timeout);

}  // namespace bluegreen::deployment
