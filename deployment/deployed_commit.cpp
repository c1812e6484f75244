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

// HEAD's commit from the files under .git, as git resolves it; nullopt when the layout is not
// the plain one (git decides then). An Error only when the host cannot be read at all.
bluegreen::Result<std::optional<std::string>> head_from_files(remote::Executor& executor,
                                                              const config::HostConfig& host,
                                                              Clock::time_point deadline) {
  std::string git_dir = host.app_dir;
  while (git_dir.size() > 1 && git_dir.back() == '/') git_dir.pop_back();
  git_dir += "/.git/";

  auto head = read_one(executor, host.ssh, git_dir + "HEAD", deadline);
  if (!head) return head.error();
  if (!*head) return std::optional<std::string>();
  const auto head_ref = parse_ref_text(**head);
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

bluegreen::Result<DeployedCommit> read_deployed_commit(remote::Executor& executor, CommitCache& cache,
                                                       const config::HostConfig& host,
                                                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto head = head_from_files(executor, host, deadline);
  if (!head) return head.error();
  if (*head) {
    if (auto known = cache.find(**head)) return *known;
  }

  // A commit not seen before (or a layout git must resolve): ask git once.
  remote::CommandOptions options;
  options.deadline = left_until(deadline);
  // Read-only and quick: no `timeout` process on the host (the deadline is enforced here), and
  // git replaces the shell instead of being forked from it.
  options.host_timeout = false;
  auto result =
      executor.run(host.ssh, "cd " + remote::shell_quote(host.app_dir) + " && exec git log -1 --format='%H%n%cI%n%s'",
                   options);
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

}  // namespace bluegreen::deployment
