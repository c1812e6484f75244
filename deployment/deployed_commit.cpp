#include "deployment/deployed_commit.h"

#include "common/text.h"

#include "remote/shell_command.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace bluegreen::deployment {
namespace {

using bluegreen::Error;
using Clock = std::chrono::steady_clock;

bool is_hash(const std::string& text) {
  return (text.size() == 40 || text.size() == 64) &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Ref names as git writes them for branches and tags; anything else is left to git.
bool is_plain_ref_name(const std::string& name) {
  if (name.rfind("refs/", 0) != 0 || name.back() == '/' || name.find("..") != std::string::npos ||
      name.find("//") != std::string::npos || name.find("/.") != std::string::npos) {
    return false;
  }
  if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".lock") == 0) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == '/';
  });
}

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

// Reads one file; nullopt when it is missing or unreadable (the caller then asks git).
bluegreen::Result<std::optional<std::string>> read_one(remote::Executor& executor, const std::string& host,
                                                       const std::string& path, Clock::time_point deadline) {
  remote::CommandOptions options;
  options.deadline = left_until(deadline);
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto read = executor.read_files(host, {path}, options);
  if (!read) return read.error();
  if (read->size() != 1 || read->front().missing || !read->front().problem.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(read->front().content));
}

std::string git_dir_of(const config::HostConfig& host) {
  std::string git_dir = host.app_dir;
  while (git_dir.size() > 1 && git_dir.back() == '/') git_dir.pop_back();
  return git_dir + "/.git/";
}

// Read-only and quick: git replaces the shell instead of being forked from it.
std::string git_log_command(const config::HostConfig& host) {
  return "cd " + remote::shell_quote(host.app_dir) + " && exec git log -1 --format='%H%n%cI%n%s'";
}

// The commit `git log` printed (and remembered in `cache`), or why there is none.
bluegreen::Result<DeployedCommit> commit_from_git_log(const bluegreen::Result<remote::CommandResult>& result,
                                                      const config::HostConfig& host, CommitCache& cache) {
  if (!result) return result.error();
  if (!result->succeeded()) {
    const std::string why = bluegreen::trim_trailing(result->err.tail.empty() ? result->summary() : result->err.tail);
    return Error{"cannot read the deployed commit in " + host.app_dir + " on " + host.ssh + ": " + why};
  }
  std::istringstream lines(result->out.tail);
  DeployedCommit commit;
  std::getline(lines, commit.hash);
  std::getline(lines, commit.date);
  std::getline(lines, commit.subject);
  if (!is_hash(commit.hash)) {
    return Error{"cannot read the deployed commit in " + host.app_dir + " on " + host.ssh +
                 ": git log printed no commit hash"};
  }
  cache.remember(commit);
  return commit;
}

// HEAD's commit from the files under .git, as git resolves it, given what reading HEAD gave;
// nullopt when the layout is not the plain one (git decides then). An Error only when the host
// cannot be read at all.
bluegreen::Result<std::optional<std::string>> head_from_files(remote::Executor& executor,
                                                              const config::HostConfig& host,
                                                              const remote::FileRead& head,
                                                              Clock::time_point deadline) {
  if (head.missing || !head.problem.empty()) return std::optional<std::string>();
  const std::string git_dir = git_dir_of(host);
  const auto head_ref = parse_ref_text(head.content);
  if (head_ref.hash) return head_ref.hash;  // detached, as deploys check out
  if (!head_ref.symbolic) return std::optional<std::string>();

  auto loose = read_one(executor, host.ssh, git_dir + *head_ref.symbolic, deadline);
  if (!loose) return loose.error();
  if (*loose) return parse_ref_text(**loose).hash;  // a ref to a ref: git decides

  auto packed = read_one(executor, host.ssh, git_dir + "packed-refs", deadline);
  if (!packed) return packed.error();
  if (!*packed) return std::optional<std::string>();
  return find_packed_ref(**packed, *head_ref.symbolic);
}

// One app directory's commit over SFTP, given what reading its HEAD gave: from the files and the
// cache, else from `git log` (a commit not seen before, or a layout git must resolve).
bluegreen::Result<DeployedCommit> resolve_commit(remote::Executor& executor, CommitCache& cache,
                                                 const config::HostConfig& host, const remote::FileRead& head,
                                                 Clock::time_point deadline) {
  auto hash = head_from_files(executor, host, head, deadline);
  if (!hash) return hash.error();
  if (*hash) {
    if (auto known = cache.find(**hash)) return *known;
  }
  remote::CommandOptions options;
  options.deadline = left_until(deadline);
  options.host_timeout = false;  // the deadline is enforced here
  return commit_from_git_log(executor.run(host.ssh, git_log_command(host), options), host, cache);
}

}  // namespace

std::optional<DeployedCommit> CommitCache::find(const std::string& hash) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(hash);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void CommitCache::remember(const DeployedCommit& commit) {
  std::lock_guard lock(mutex_);
  if (entries_.size() >= kMaxEntries) entries_.clear();  // a long-running server with very many deploys
  entries_[commit.hash] = commit;
}

RefText parse_ref_text(const std::string& raw) {
  const std::string text = bluegreen::trim_trailing(raw);
  RefText ref;
  if (text.find('\n') != std::string::npos) return ref;
  if (text.rfind("ref: ", 0) == 0) {
    std::string name = text.substr(5);
    if (is_plain_ref_name(name)) ref.symbolic = std::move(name);
  } else if (is_hash(text)) {
    ref.hash = text;
  }
  return ref;
}

std::optional<std::string> find_packed_ref(const std::string& packed_refs, const std::string& ref) {
  std::istringstream lines(packed_refs);
  std::string line;
  while (std::getline(lines, line)) {
    line = bluegreen::trim_trailing(line);
    if (line.empty() || line[0] == '#' || line[0] == '^') continue;
    const auto space = line.find(' ');
    if (space == std::string::npos || line.compare(space + 1, std::string::npos, ref) != 0) continue;
    std::string hash = line.substr(0, space);
    if (is_hash(hash)) return hash;
    return std::nullopt;
  }
  return std::nullopt;
}

std::vector<bluegreen::Result<DeployedCommit>> read_deployed_commits(
    remote::Executor& executor, CommitCache& cache, const std::vector<const config::HostConfig*>& hosts,
    std::chrono::milliseconds timeout) {
  if (hosts.empty()) return {};
  const auto deadline = Clock::now() + timeout;
  const std::string& ssh = hosts.front()->ssh;
  std::vector<std::string> heads;
  remote::Piggyback git_logs;
  for (const auto* host : hosts) {
    heads.push_back(git_dir_of(*host) + "HEAD");
    git_logs.commands.push_back(git_log_command(*host));
  }
  remote::CommandOptions options;
  options.deadline = left_until(deadline);
  options.output_cap_bytes = std::size_t{8} * 1024 * 1024;
  auto read = executor.read_files(ssh, heads, options, &git_logs);
  if (read && (read->size() != heads.size() || (git_logs.ran && git_logs.results.size() != heads.size()))) {
    read = Error{"reading files on " + ssh + " returned " + std::to_string(read->size()) + " results for " +
                 std::to_string(heads.size()) + " files"};
  }
  std::vector<bluegreen::Result<DeployedCommit>> commits;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (!read) commits.emplace_back(read.error());
    // No SFTP: `git log` already ran, in the process that read the files.
    else if (git_logs.ran) commits.push_back(commit_from_git_log(git_logs.results[i], *hosts[i], cache));
    else commits.push_back(resolve_commit(executor, cache, *hosts[i], read->at(i), deadline));
  }
  return commits;
}

bluegreen::Result<DeployedCommit> read_deployed_commit(remote::Executor& executor, CommitCache& cache,
                                                       const config::HostConfig& host,
                                                       std::chrono::milliseconds timeout) {
  return std::move(read_deployed_commits(executor, cache, {&host}, timeout).front());
}

}  // namespace bluegreen::deployment
