#pragma once
// The HAProxy configs' status-change times (ctime) learnt by earlier looks at a load balancer
// (lb_snapshot.h), so that a look finding a config with the same content and modification time
// as the last one needs no `stat` command on the LB: a change of content shows in the content
// itself, which every look reads whole, and a backdated modification time (cp -p, touch -d) hides
// nothing then. Status looks often; deploys and switches always ask the LB.
//
// Thread-safety: all methods may be called from several threads.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace bluegreen::deployment {

class ChangeTimeCache {
 public:
  // The ctime (s since the epoch) recorded for `path` on `host`, when it was recorded with this
  // very `content` and `mtime`; nullopt otherwise.
  std::optional<std::int64_t> find(const std::string& host, const std::string& path, const std::string& content,
                                   std::optional<std::int64_t> mtime) const {
    std::lock_guard lock(mutex_);
    const auto found = entries_.find({host, path});
    if (found == entries_.end() || found->second.content != content || found->second.mtime != mtime) {
      return std::nullopt;
    }
    return found->second.ctime;
  }

  void store(const std::string& host, const std::string& path, std::string content, std::optional<std::int64_t> mtime,
             std::int64_t ctime) {
    std::lock_guard lock(mutex_);
    entries_[{host, path}] = Entry{std::move(content), mtime, ctime};
  }

 private:
  struct Entry {
    std::string content;
    std::optional<std::int64_t> mtime;
    std::int64_t ctime = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace bluegreen::deployment
