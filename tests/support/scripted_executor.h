#pragma once
// ScriptedExecutor: a remote::Executor for unit tests that answers from a script instead of SSH.
//
// Simulates: remote hosts. Every call is recorded (calls()). What each kind of call returns:
//  - run(): the newest rule whose matcher accepts (host, command) answers, with a CommandResult
//    (the command ran, whatever its exit status) or a bluegreen::Error (the host could not be
//    reached). Rules are tried newest first, so a test can override a default by adding a rule.
//    A command no rule matches is recorded in unmatched() and answered with exit 127 and
//    "scripted executor: no reply for ..." on stderr: it never silently succeeds.
//  - read_files(): from an in-memory file system, host -> path -> content (set_file(),
//    file_problem() for an unreadable file); absent paths are reported missing. By default as
//    over SFTP: piggybacked commands are not run and the read starts no process. On a host set
//    without_sftp(), as with `cat`: each file also reports its status-change time, the
//    piggybacked commands are answered by the run() rules within the same call (recorded in the
//    call, not as calls of their own), and the call counts as one process start.
//  - query_unix_socket(): from a handler per (host, socket path); none: an Error saying the
//    socket cannot be connected (and the call is in unmatched()).
//  - hold(): from the hold handler; by default a HeldProcess that stays alive until its handle is
//    destroyed (held_now() counts live ones). lock_busy() makes it answer as flock does when the
//    lock stays taken: an Error with code kFailedPrecondition and exit_status 75.
//  - an interceptor, when set, is asked first for every call and may answer with an Error (an
//    unreachable host) instead.
//  - observers hear every call before it is answered (to request a stop "while X runs", or to
//    change a file under the caller's feet).
//
// Thread-safety: all methods may be called from several threads at once. Handlers, interceptor
// and observers are called without the executor's lock held, so they may call back into it (e.g.
// set_file); a handler that keeps its own state must lock it itself.

#include "common/result.h"
#include "remote/executor.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace testing_support {
using namespace bluegreen;  // NOLINT(google-build-using-namespace): test support

enum class CallKind { kRun, kHold, kReadFiles, kSocket };

// One call the code under test made.
struct Call {
  std::string host;
  CallKind kind = CallKind::kRun;
  std::string command;                   // run, hold
  std::vector<std::string> paths;        // read_files
  std::string socket;                    // query_unix_socket
  std::string request;                   // query_unix_socket
  bool stop_requested = false;           // options.stop was already requested when the call came
  std::vector<std::string> piggybacked;  // read_files: the commands asked to ride along
  bool by_cat = false;                   // read_files: read as `cat` does (without_sftp()): a process start
};

inline remote::CommandResult exit_with(int status, std::string out = "", std::string err = "") {
  remote::CommandResult result;
  result.exit_status = status;
  result.out.tail = std::move(out);
  result.err.tail = std::move(err);
  result.duration = std::chrono::milliseconds(1);
  return result;
}

inline remote::CommandResult ok_with(std::string out = "") { return exit_with(0, std::move(out)); }

// A command stopped because `stop` was requested (no exit status), as SshExecutor reports it.
inline remote::CommandResult cancelled_result() {
  remote::CommandResult result;
  result.cancelled = true;
  result.problem = "stopped: the caller cancelled";
  result.duration = std::chrono::milliseconds(1);
  return result;
}

inline bluegreen::Error unreachable_error(const std::string& host) {
  return bluegreen::Error{"ssh: connect to host " + host + " port 22: Connection refused",
                          bluegreen::ErrorCode::kUnavailable};
}

class ScriptedExecutor : public remote::Executor {
 public:
  using Reply = bluegreen::Result<remote::CommandResult>;
  using Matcher = std::function<bool(const std::string& host, const std::string& command)>;
  using Handler = std::function<Reply(const std::string& host, const std::string& command)>;
  using SocketHandler = std::function<bluegreen::Result<std::string>(const std::string& request)>;
  using HoldHandler =
      std::function<bluegreen::Result<std::unique_ptr<remote::HeldProcess>>(const std::string& host,
                                                                            const std::string& command)>;
  using Interceptor = std::function<std::optional<bluegreen::Error>(const Call& call)>;
  using Observer = std::function<void(const Call& call)>;

  // --- scripting ----------------------------------------------------------------------------

  // Commands on any host containing `fragment` get `reply` (newest rule first).
  void on(const std::string& fragment, Reply reply) {
    on_match([fragment](const std::string&,
                        const std::string& command) { return command.find(fragment) != std::string::npos; },
             [reply](const std::string&, const std::string&) { return reply; });
  }
  // Commands on `host` containing `fragment` get `reply`.
  void on_host(const std::string& host, const std::string& fragment, Reply reply) {
    on_match(
        [host, fragment](const std::string& h, const std::string& command) {
          return h == host && command.find(fragment) != std::string::npos;
        },
        [reply](const std::string&, const std::string&) { return reply; });
  }
  // The general form: a predicate and a handler computing the reply.
  void on_match(Matcher matcher, Handler handler) {
    std::lock_guard lock(mutex_);
    rules_.push_back({std::move(matcher), std::move(handler)});
  }

  void on_socket(const std::string& host, const std::string& socket, SocketHandler handler) {
    std::lock_guard lock(mutex_);
    sockets_[{host, socket}] = std::move(handler);
  }

  void on_hold(HoldHandler handler) {
    std::lock_guard lock(mutex_);
    hold_ = std::move(handler);
  }
  // hold() answers as flock -E 75 does when the lock stays taken for the whole wait.
  void lock_busy() {
    on_hold([](const std::string&, const std::string&) -> bluegreen::Result<std::unique_ptr<remote::HeldProcess>> {
      return bluegreen::Error{"the command exited with status 75 before it was ready",
                              bluegreen::ErrorCode::kFailedPrecondition, 75};
    });
  }

  // Runs `look` unseen: its calls are neither recorded, observed nor intercepted (a test's own look
  // at the hosts, e.g. the lines a plan binds). Nothing else may call the executor meanwhile.
  template <typename Look>
  auto unseen(Look look) {
    unseen_ = true;
    auto result = look();
    unseen_ = false;
    return result;
  }

  [[nodiscard]] bool is_unseen() const { return unseen_; }

  void set_interceptor(Interceptor interceptor) {
    std::lock_guard lock(mutex_);
    interceptor_ = std::move(interceptor);
  }
  void observe(Observer observer) {
    std::lock_guard lock(mutex_);
    observers_.push_back(std::move(observer));
  }

  // read_files() on `host` from now on reads as `cat` does where a host has no SFTP (see above).
  void without_sftp(const std::string& host) {
    std::lock_guard lock(mutex_);
    no_sftp_.push_back(host);
  }

  // --- the in-memory file system --------------------------------------------------------------

  void set_file(const std::string& host, const std::string& path, std::string content) {
    std::lock_guard lock(mutex_);
    files_[host][path] = std::move(content);
    problems_[host].erase(path);
    if (const auto clock = clocks_.find(host); clock != clocks_.end()) {
      mtimes_[host][path] = clock->second;
      ctimes_[host][path] = clock->second;
    }
  }
  // Sets `path`'s modification time back as `touch -d` or `cp -p` do; its status-change time
  // (changed()) stays.
  void backdate(const std::string& host, const std::string& path, std::int64_t mtime_s) {
    std::lock_guard lock(mutex_);
    mtimes_[host][path] = mtime_s;
  }
  // When `path` last changed (its ctime), as set_file() recorded it.
  [[nodiscard]] std::optional<std::int64_t> changed(const std::string& host, const std::string& path) const {
    std::lock_guard lock(mutex_);
    const auto h = ctimes_.find(host);
    if (h == ctimes_.end()) return std::nullopt;
    const auto c = h->second.find(path);
    if (c == h->second.end()) return std::nullopt;
    return c->second;
  }
  // The modification time set_file() gave `path` (nullopt: none).
  [[nodiscard]] std::optional<std::int64_t> modified(const std::string& host, const std::string& path) const {
    std::lock_guard lock(mutex_);
    const auto h = mtimes_.find(host);
    if (h == mtimes_.end()) return std::nullopt;
    const auto m = h->second.find(path);
    if (m == h->second.end()) return std::nullopt;
    return m->second;
  }
  // `host`'s clock (s since the epoch): files written from now on get it as their modification
  // time (FileRead::modified_epoch_s). Without a clock, files have none.
  void set_host_clock(const std::string& host, std::int64_t now_s) {
    std::lock_guard lock(mutex_);
    clocks_[host] = now_s;
  }
  void remove_file(const std::string& host, const std::string& path) {
    std::lock_guard lock(mutex_);
    files_[host].erase(path);
  }
  // read_files reports `path` unreadable with `problem`.
  void file_problem(const std::string& host, const std::string& path, std::string problem) {
    std::lock_guard lock(mutex_);
    problems_[host][path] = std::move(problem);
  }
  [[nodiscard]] std::optional<std::string> file(const std::string& host, const std::string& path) const {
    std::lock_guard lock(mutex_);
    const auto h = files_.find(host);
    if (h == files_.end()) return std::nullopt;
    const auto f = h->second.find(path);
    if (f == h->second.end()) return std::nullopt;
    return f->second;
  }
  // All paths on `host` (sorted).
  [[nodiscard]] std::vector<std::string> paths(const std::string& host) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    if (const auto h = files_.find(host); h != files_.end()) {
      for (const auto& [path, content] : h->second) out.push_back(path);
    }
    return out;
  }

  // --- what happened ------------------------------------------------------------------------

  [[nodiscard]] std::vector<Call> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  [[nodiscard]] std::vector<Call> unmatched() const {
    std::lock_guard lock(mutex_);
    return unmatched_;
  }
  // run() calls on `host` (every host when empty) whose command contains `fragment`.
  [[nodiscard]] std::vector<std::string> commands(const std::string& host = "",
                                                  const std::string& fragment = "") const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& call : calls_) {
      if (call.kind != CallKind::kRun || (!host.empty() && call.host != host)) continue;
      if (call.command.find(fragment) != std::string::npos) out.push_back(call.command);
    }
    return out;
  }
  // Processes the calls so far started on `host`: each run() and hold(), and each read_files()
  // read as `cat` (with whatever rode along); reads over SFTP and socket queries (forwarded)
  // start none.
  [[nodiscard]] int process_starts(const std::string& host) const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count_if(calls_.begin(), calls_.end(), [&](const Call& call) {
      return call.host == host && (call.kind == CallKind::kRun || call.kind == CallKind::kHold || call.by_cat);
    }));
  }
  // Hosts that saw any call.
  [[nodiscard]] std::vector<std::string> hosts_called() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& call : calls_) {
      if (std::find(out.begin(), out.end(), call.host) == out.end()) out.push_back(call.host);
    }
    return out;
  }
  // Live HeldProcess handles from the default hold handler (a lock still held when > 0).
  [[nodiscard]] int held_now() const { return live_holds_->load(); }
  [[nodiscard]] int holds_granted() const { return holds_granted_->load(); }

  // --- remote::Executor ---------------------------------------------------------------------

  bluegreen::Result<remote::CommandResult> run(const std::string& host, const std::string& command,
                                               const remote::CommandOptions& options) override {
    Call call{host, CallKind::kRun, command, {}, "", "", options.stop.stop_requested(), {}, false};
    if (auto refused = begin(call)) return *refused;
    return answer(call);
  }

  bluegreen::Result<std::unique_ptr<remote::HeldProcess>> hold(const std::string& host, const std::string& command,
                                                               const std::string& ready_line,
                                                               const remote::CommandOptions& options) override {
    (void)ready_line;
    Call call{host, CallKind::kHold, command, {}, "", "", options.stop.stop_requested(), {}, false};
    if (auto refused = begin(call)) return *refused;
    if (options.stop.stop_requested()) return bluegreen::Error{"cancelled", bluegreen::ErrorCode::kCancelled};
    HoldHandler handler;
    {
      std::lock_guard lock(mutex_);
      handler = hold_;
    }
    if (handler) return handler(host, command);
    return std::unique_ptr<remote::HeldProcess>(std::make_unique<Held>(live_holds_, holds_granted_));
  }

  bluegreen::Result<remote::SocketReply> query_unix_socket(const std::string& host, const std::string& socket_path,
                                                           const std::string& request,
                                                           const remote::CommandOptions& options) override {
    Call call{host, CallKind::kSocket, "", {}, socket_path, request, options.stop.stop_requested(), {}, false};
    if (auto refused = begin(call)) return *refused;
    SocketHandler handler;
    {
      std::lock_guard lock(mutex_);
      if (const auto it = sockets_.find({host, socket_path}); it != sockets_.end()) handler = it->second;
      else unmatched_.push_back(call);
    }
    if (!handler) {
      return bluegreen::Error{"cannot connect to " + socket_path + " on " + host + ": No such file or directory"};
    }
    auto text = handler(request);
    if (!text) return text.error();
    return remote::SocketReply{std::move(text.value()), std::chrono::milliseconds(0), true};
  }

  bluegreen::Result<std::vector<remote::FileRead>> read_files(const std::string& host,
                                                              const std::vector<std::string>& paths,
                                                              const remote::CommandOptions& options,
                                                              remote::Piggyback* piggyback = nullptr) override {
    if (piggyback) {
      piggyback->ran = false;
      piggyback->results.clear();
    }
    bool by_cat = false;
    {
      std::lock_guard lock(mutex_);
      by_cat = std::find(no_sftp_.begin(), no_sftp_.end(), host) != no_sftp_.end();
    }
    Call call{host,
              CallKind::kReadFiles,
              "",
              paths,
              "",
              "",
              options.stop.stop_requested(),
              piggyback ? piggyback->commands : std::vector<std::string>(),
              by_cat};
    if (auto refused = begin(call)) return *refused;
    auto out = file_reads(host, paths, by_cat);
    if (by_cat && piggyback) {
      for (const auto& command : piggyback->commands) {
        auto reply = answer(Call{host, CallKind::kRun, command, {}, "", "", call.stop_requested, {}, false});
        if (!reply) {  // a rule says the host cannot be reached: then nothing ran
          piggyback->results.clear();
          return reply.error();
        }
        piggyback->results.push_back(std::move(reply.value()));
      }
      piggyback->ran = true;
    }
    return out;
  }

 private:
  class Held final : public remote::HeldProcess {
   public:
    Held(std::shared_ptr<std::atomic<int>> live, const std::shared_ptr<std::atomic<int>>& granted)
        : live_(std::move(live)) {
      ++*live_;
      ++*granted;
    }
    ~Held() override { --*live_; }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    Held(Held&&) = delete;
    Held& operator=(Held&&) = delete;
    bool alive() override { return true; }

   private:
    std::shared_ptr<std::atomic<int>> live_;
  };

  struct Rule {
    Matcher matcher;
    Handler handler;
  };

  // The files as read now: over SFTP (no status-change time) or with `cat`.
  std::vector<remote::FileRead> file_reads(const std::string& host, const std::vector<std::string>& paths,
                                           bool by_cat) {
    std::lock_guard lock(mutex_);
    std::vector<remote::FileRead> out;
    for (const auto& path : paths) {
      remote::FileRead read;
      if (const auto p = problems_[host].find(path); p != problems_[host].end()) {
        read.problem = p->second;
      } else if (const auto f = files_[host].find(path); f != files_[host].end()) {
        read.content = f->second;
        if (const auto m = mtimes_[host].find(path); m != mtimes_[host].end()) read.modified_epoch_s = m->second;
        if (const auto c = ctimes_[host].find(path); by_cat && c != ctimes_[host].end()) {
          read.changed_epoch_s = c->second;
        }
      } else {
        read.missing = true;
      }
      out.push_back(std::move(read));
    }
    return out;
  }

  // The run() rules' reply to `call` (a command); unmatched: exit 127, recorded in unmatched().
  Reply answer(const Call& call) {
    Handler handler;
    {
      std::lock_guard lock(mutex_);
      for (auto rule = rules_.rbegin(); rule != rules_.rend(); ++rule) {
        if (rule->matcher(call.host, call.command)) {
          handler = rule->handler;
          break;
        }
      }
      if (!handler) unmatched_.push_back(call);
    }
    if (!handler) return exit_with(127, "", "scripted executor: no reply for `" + call.command + "` on " + call.host);
    return handler(call.host, call.command);
  }

  // Records the call, tells the observers, and asks the interceptor.
  std::optional<bluegreen::Error> begin(const Call& call) {
    std::vector<Observer> observers;
    Interceptor interceptor;
    if (unseen_) return std::nullopt;
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(call);
      observers = observers_;
      interceptor = interceptor_;
    }
    for (const auto& observer : observers) observer(call);
    if (interceptor) return interceptor(call);
    return std::nullopt;
  }

  mutable std::mutex mutex_;
  std::atomic<bool> unseen_{false};
  std::vector<Rule> rules_;
  std::map<std::pair<std::string, std::string>, SocketHandler> sockets_;
  HoldHandler hold_;
  Interceptor interceptor_;
  std::vector<Observer> observers_;
  std::map<std::string, std::map<std::string, std::string>> files_;
  std::map<std::string, std::map<std::string, std::int64_t>> mtimes_;
  std::map<std::string, std::map<std::string, std::int64_t>> ctimes_;
  std::map<std::string, std::int64_t> clocks_;
  std::map<std::string, std::map<std::string, std::string>> problems_;
  std::vector<std::string> no_sftp_;  // hosts whose reads are as with `cat`
  std::vector<Call> calls_;
  std::vector<Call> unmatched_;
  std::shared_ptr<std::atomic<int>> live_holds_ = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<int>> holds_granted_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace testing_support
