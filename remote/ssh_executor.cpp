#include "remote/ssh_executor.h"

#include "remote/shell_command.h"
#include "remote/ssh_config.h"

#include <libssh/libssh.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <poll.h>
#include <map>
#include <set>
#include <string_view>
#include <utility>

namespace remote {
namespace {

using bluegreen::Error;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

struct SessionDeleter {
  void operator()(ssh_session session) const {
    if (ssh_is_connected(session) != 0) ssh_disconnect(session);
    ssh_free(session);
  }
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;

struct ChannelDeleter {
  void operator()(ssh_channel channel) const {
    if (ssh_channel_is_open(channel) != 0) ssh_channel_close(channel);
    ssh_channel_free(channel);
  }
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;

struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

std::string libssh_error(ssh_session session) {
  const char* text = ssh_get_error(session);
  return text != nullptr && *text != '\0' ? text : "unknown libssh error";
}

// Appends to a capped tail buffer; trims lazily so appends stay amortised O(1).
void append_capped(CapturedOutput& output, const char* data, std::size_t size, std::size_t cap) {
  output.tail.append(data, size);
  if (output.tail.size() > 2 * cap + 65536) {
    const std::size_t excess = output.tail.size() - cap;
    output.tail.erase(0, excess);
    output.dropped += excess;
  }
}

void finish_capped(CapturedOutput& output, std::size_t cap) {
  if (output.tail.size() > cap) {
    const std::size_t excess = output.tail.size() - cap;
    output.tail.erase(0, excess);
    output.dropped += excess;
  }
}

std::string seconds_text(milliseconds ms) {
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%.3f", static_cast<double>(ms.count()) / 1000.0);
  return buffer.data();
}

constexpr std::string_view kPidMarker = "bluegreen-mcp-pid:";

// How far apart two refused channels to a socket socat reached must be before forwarding counts
// as refused by the host (longer than the windows in which a reloading HAProxy master refuses).
constexpr auto kRefusalConfirmAfter = std::chrono::seconds(3);

// Separates the "bluegreen-mcp-pid:<pid>" line the wrapper writes first on stderr from the
// command's own output.
class PidLine {
 public:
  // Feeds stderr bytes; returns what belongs to the command. Sets `done` once the line is over.
  std::string_view consume(std::string_view data, bool& done) {
    const auto newline = data.find('\n');
    line_.append(data.substr(0, newline));
    if (newline == std::string_view::npos && line_.size() < 64) return {};
    done = true;
    if (line_.rfind(kPidMarker, 0) == 0) {
      pid_ = line_.substr(kPidMarker.size());
      if (pid_.empty() || pid_.find_first_not_of("0123456789") != std::string::npos) pid_.clear();
    }
    return newline == std::string_view::npos ? std::string_view() : data.substr(newline + 1);
  }
  [[nodiscard]] const std::string& pid() const { return pid_; }

 private:
  std::string line_;
  std::string pid_;
};

// Asks the remote command to stop: `kill -TERM <pid>` on a second channel (the wrapper's
// `timeout` passes TERM on to the command's process group), falling back to an SSH signal
// request. Without `timeout` (`whole_group`), the TERM goes to the process group itself: sshd
// starts the login shell as a session and group leader, so <pid> is also the group's id.
void stop_remote_command(ssh_session session, ssh_channel running, const std::string& pid, bool whole_group,
                         const std::string& host) {
  if (pid.empty()) {
    ssh_channel_request_send_signal(running, "TERM");
    return;
  }
  ChannelPtr killer(ssh_channel_new(session));
  const std::string command = whole_group ? "kill -TERM -- -" + pid + " 2>/dev/null || kill -TERM " + pid + " 2>/dev/null"
                                          : "kill -TERM " + pid + " 2>/dev/null";
  if (!killer || ssh_channel_open_session(killer.get()) != SSH_OK ||
      ssh_channel_request_exec(killer.get(), command.c_str()) != SSH_OK) {
    spdlog::warn("ssh {}: could not send kill to remote pid {}: {}", host, pid, libssh_error(session));
    ssh_channel_request_send_signal(running, "TERM");
    return;
  }
  std::array<char, 256> sink{};
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (ssh_channel_is_eof(killer.get()) == 0 && Clock::now() < until) {
    if (ssh_channel_read_timeout(killer.get(), sink.data(), sink.size(), 0, 100) == SSH_ERROR) break;
  }
}

// Puts a session into non-blocking mode for a scope (the caller holds the session's mutex).
class NonBlocking {
 public:
  explicit NonBlocking(ssh_session session) : session_(session) { ssh_set_blocking(session_, 0); }
  ~NonBlocking() { ssh_set_blocking(session_, 1); }
  NonBlocking(const NonBlocking&) = delete;
  NonBlocking& operator=(const NonBlocking&) = delete;

 private:
  ssh_session session_;
};

// Waits until the session's socket is readable, `until` passes, or 50 ms (so a stop request is
// seen soon). False when polling failed.
bool wait_readable(ssh_session session, Clock::time_point until) {
  const auto slice =
      std::clamp(duration_cast<milliseconds>(until - Clock::now()), milliseconds(1), milliseconds(50));
  pollfd socket{ssh_get_fd(session), POLLIN, 0};
  return ::poll(&socket, 1, static_cast<int>(slice.count())) >= 0 || errno == EINTR;
}

// Why a socket query must end now, if it must.
std::optional<std::string> stop_reason(const CommandOptions& options, Clock::time_point deadline,
                                       const std::string& what) {
  if (options.stop.stop_requested()) return "cancelled while querying the " + what;
  if (Clock::now() >= deadline) {
    return "deadline of " + std::to_string(options.deadline.count()) + " ms passed while querying the " + what;
  }
  return std::nullopt;
}

// SFTP version 3 (draft-ietf-secsh-filexfer-02): just what reading whole files needs. libssh's own
// sftp functions wait without limit for a server that stops answering, so the protocol is driven
// here, by the same non-blocking reads and poll as commands, and deadlines and `stop` hold.
namespace sftp {

constexpr std::uint8_t kInit = 1;
constexpr std::uint8_t kVersion = 2;
constexpr std::uint8_t kOpen = 3;
constexpr std::uint8_t kClose = 4;
constexpr std::uint8_t kRead = 5;
constexpr std::uint8_t kStatus = 101;
constexpr std::uint8_t kHandle = 102;
constexpr std::uint8_t kData = 103;
constexpr std::uint32_t kStatusEof = 1;
constexpr std::uint32_t kStatusNoSuchFile = 2;
constexpr std::uint32_t kOpenForReading = 1;         // SSH_FXF_READ
constexpr std::uint32_t kReadChunk = 64 * 1024;      // every server accepts this much per READ
constexpr std::uint32_t kMaxPacket = 1024 * 1024;    // anything larger is not an SFTP server talking

struct Packet {
  std::uint8_t type = 0;
  std::string body;  // after the type byte
};

void put_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xffU));
}
void put_u64(std::string& out, std::uint64_t value) {
  put_u32(out, static_cast<std::uint32_t>(value >> 32));
  put_u32(out, static_cast<std::uint32_t>(value & 0xffffffffU));
}
void put_string(std::string& out, std::string_view value) {
  put_u32(out, static_cast<std::uint32_t>(value.size()));
  out.append(value);
}
std::uint32_t get_u32(std::string_view data, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(data[at + i]);
  return value;
}

// Reads the fields of a packet's body; ok() turns false when the body is too short.
class Fields {
 public:
  explicit Fields(std::string_view body) : body_(body) {}
  std::uint32_t u32() {
    if (at_ > body_.size() || body_.size() - at_ < 4) {
      ok_ = false;
      return 0;
    }
    const auto value = get_u32(body_, at_);
    at_ += 4;
    return value;
  }
  std::string_view string() {
    const auto size = u32();
    if (!ok_ || body_.size() - at_ < size) {
      ok_ = false;
      return {};
    }
    const auto value = body_.substr(at_, size);
    at_ += size;
    return value;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool at_end() const { return at_ >= body_.size(); }

 private:
  std::string_view body_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

std::string status_text(std::uint32_t code, std::string_view message) {
  static constexpr std::array<const char*, 9> kNames = {
      "ok", "end of file", "no such file", "permission denied", "failure", "bad message", "no connection",
      "connection lost", "operation unsupported"};
  std::string text = message.empty() ? (code < kNames.size() ? kNames[code] : "error") : std::string(message);
  return text + " (SFTP status " + std::to_string(code) + ")";
}

// Why an SFTP exchange ended early. kLost: the session is gone (reads change nothing, so one
// retry on a new session is safe). kBroken: the host has no usable SFTP server (read the files
// another way). kEnded: the deadline passed, `stop` was requested, or the host cannot be reached
// (the message says which).
struct Failure {
  enum class Kind { kLost, kBroken, kEnded } kind;
  std::string message;
};

}  // namespace sftp

}  // namespace

class SshExecutor::Connection {
 public:
  Connection(std::string host, const SshSettings& settings) : host_(std::move(host)), settings_(settings) {}

  std::mutex mutex;  // one command at a time on this session

  // Requires `mutex`.
  bluegreen::Status ensure_connected() {
    if (session_ && ssh_is_connected(session_.get()) != 0) return bluegreen::ok_status();
    drop();
    auto session = open_session();
    if (!session) return session.error();
    session_ = std::move(session.value());
    streamlocal_refused = false;  // a new session may be allowed what the last one was not
    refusal_suspected.reset();
    sftp_unusable = false;
    return bluegreen::ok_status();
  }

  // Requires `mutex`. Opens a direct-streamlocal channel to the UNIX socket `path`: sshd connects
  // to it. When the host refuses the channel, returns an Error and sets `refused` to the reason.
  bluegreen::Result<ChannelPtr> open_forward(const std::string& path, const CommandOptions& options,
                                             Clock::time_point deadline, std::string& refused) {
    const std::string what = "UNIX socket " + path + " on " + host_;
    for (int attempt = 0;; ++attempt) {
      if (auto status = ensure_connected(); !status) return status.error();
      ssh_session s = session_.get();
      ChannelPtr channel(ssh_channel_new(s));
      if (!channel) return Error{"ssh " + host_ + ": cannot allocate a channel: " + libssh_error(s)};
      int rc = SSH_ERROR;
      {
        // Non-blocking, so the deadline and `stop` hold while the host answers the open.
        NonBlocking nonblocking(s);
        while ((rc = ssh_channel_open_forward_unix(channel.get(), path.c_str(), "127.0.0.1", 0)) == SSH_AGAIN) {
          // Freeing a channel whose open is unanswered leaves libssh's record of it until the
          // session ends; that takes an sshd that stalls past the deadline, which is rare.
          if (auto why = stop_reason(options, deadline, what)) return Error{*why};
          if (!wait_readable(s, deadline)) break;
        }
      }
      if (rc == SSH_OK) return channel;
      const std::string why = libssh_error(s);
      if (ssh_is_connected(s) != 0 && ssh_get_error_code(s) == SSH_REQUEST_DENIED) {
        refused = why;
        return Error{"ssh " + host_ + ": cannot forward the " + what + ": " + why};
      }
      channel.reset();  // a channel must go before its session
      drop();
      // Nothing reached the socket yet, so one retry on a new session is safe.
      if (attempt > 0) return Error{"ssh " + host_ + ": connection lost while opening a channel: " + why};
      spdlog::warn("ssh {}: opening a channel failed ({}); reconnecting", host_, why);
    }
  }

  // Requires `mutex`. Sends `request` to the UNIX socket `path` through a direct-streamlocal
  // channel, then end of input, and reads until the socket closes. When the host refuses the
  // channel, returns an Error and sets `refused` to the reason (nothing reached the socket then).
  bluegreen::Result<SocketReply> forward(const std::string& path, const std::string& request,
                                         const CommandOptions& options, Clock::time_point deadline,
                                         std::string& refused) {
    const std::string what = "UNIX socket " + path + " on " + host_;
    auto opened = open_forward(path, options, deadline, refused);
    if (!opened) return opened.error();
    ChannelPtr channel = std::move(opened.value());

    ssh_session s = session_.get();
    const auto size = static_cast<uint32_t>(request.size());
    if ((size > 0 && ssh_channel_write(channel.get(), request.data(), size) != static_cast<int>(size)) ||
        ssh_channel_send_eof(channel.get()) != SSH_OK) {
      const std::string why = libssh_error(s);
      channel.reset();
      drop();
      return Error{"ssh " + host_ + ": connection lost while querying the " + what + ": " + why};
    }
    SocketReply reply;
    reply.forwarded = true;
    std::array<char, 65536> buffer{};
    while (true) {
      const int n = ssh_channel_read_nonblocking(channel.get(), buffer.data(), buffer.size(), 0);
      if (n > 0) {
        reply.text.append(buffer.data(), static_cast<std::size_t>(n));
        if (reply.text.size() > options.output_cap_bytes) {
          return Error{"the reply of the " + what + " exceeds " + std::to_string(options.output_cap_bytes) + " bytes"};
        }
        continue;
      }
      if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(channel.get()) != 0)) break;
      if (n < 0 || !wait_readable(s, deadline)) {
        const std::string why = libssh_error(s);
        channel.reset();
        drop();
        return Error{"ssh " + host_ + ": connection lost while querying the " + what + ": " + why};
      }
      // Closing the channel (ChannelPtr) closes sshd's connection to the socket: nothing is left.
      if (auto why = stop_reason(options, deadline, what)) return Error{*why};
    }
    return reply;
  }

  bool streamlocal_refused = false;  // requires `mutex`: this session refuses direct-streamlocal
  // Requires `mutex`: when a channel to a socket that socat had just reached was first refused,
  // with no forwarded query succeeding since (see query_unix_socket).
  std::optional<Clock::time_point> refusal_suspected;
  bool sftp_unusable = false;        // requires `mutex`: this session has no usable SFTP server

  // Requires `mutex`. Reads whole files over the SFTP channel (opened on first use and kept).
  // When the SFTP server cannot be used, returns an Error and sets `unusable` to why, and
  // `at_start` when that was already so while starting it (no SFTP subsystem, not an SFTP server).
  bluegreen::Result<std::vector<FileRead>> sftp_read(const std::vector<std::string>& paths,
                                                     const CommandOptions& options, Clock::time_point deadline,
                                                     std::string& unusable, bool& at_start) {
    for (int attempt = 0;; ++attempt) {
      std::vector<FileRead> files;
      auto failure = sftp_exchange(paths, options, deadline, files, at_start);
      if (!failure) return files;
      close_sftp();  // its state is unknown now
      switch (failure->kind) {
        case sftp::Failure::Kind::kEnded:
          return Error{failure->message};
        case sftp::Failure::Kind::kBroken:
          unusable = failure->message;
          return Error{"ssh " + host_ + ": cannot read files over SFTP: " + failure->message};
        case sftp::Failure::Kind::kLost:
          drop();
          if (attempt > 0 || Clock::now() >= deadline) {
            return Error{"ssh " + host_ + ": connection lost while reading files: " + failure->message};
          }
          spdlog::warn("ssh {}: connection lost while reading files ({}); reconnecting", host_, failure->message);
      }
    }
  }

  // Requires `mutex`. Opens a channel, reconnecting once if the session turned out to be dead
  // (nothing has run yet, so retrying is safe).
  bluegreen::Result<ChannelPtr> open_channel() {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (auto status = ensure_connected(); !status) return status.error();
      ChannelPtr channel(ssh_channel_new(session_.get()));
      if (channel && ssh_channel_open_session(channel.get()) == SSH_OK) return channel;
      spdlog::warn("ssh {}: opening a channel failed ({}); reconnecting", host_, libssh_error(session_.get()));
      channel.reset();
      drop();
    }
    return Error{"ssh " + host_ + ": cannot open a channel after reconnecting"};
  }

  // Requires `mutex`. Opens a channel and starts `command` on it.
  bluegreen::Result<ChannelPtr> start(const std::string& command) {
    auto channel = open_channel();
    if (!channel) return channel.error();
    if (ssh_channel_request_exec(channel->get(), command.c_str()) != SSH_OK) {
      const std::string why = libssh_error(session_.get());
      channel->reset();  // a channel must go before its session
      drop();
      return Error{"ssh " + host_ + ": cannot start the command: " + why};
    }
    return std::move(channel.value());
  }

  ssh_session session() { return session_.get(); }

  // Requires `mutex`. Channels of held processes die with the session: free them first (a
  // channel must never outlive its session).
  void drop() {
    for (ChannelPtr* channel : held_) channel->reset();
    close_sftp();
    session_.reset();
  }

  // Requires `mutex`. Held channels are tracked so drop() can free them in time.
  void track(ChannelPtr* channel) { held_.insert(channel); }
  void untrack(ChannelPtr* channel) { held_.erase(channel); }
  [[nodiscard]] const std::string& host() const { return host_; }
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }

 private:
  bluegreen::Result<SessionPtr> open_session() {
    SessionPtr session(ssh_new());
    if (!session) return Error{"ssh " + host_ + ": cannot allocate a libssh session"};
    ssh_session s = session.get();

    // The ssh config is resolved here (OpenSSH semantics, see ssh_config.h), so libssh must not
    // parse it again: its parser could override what is set below.
    auto resolved = resolve_ssh_destination(host_, config_sources());
    if (!resolved) return Error{"ssh " + host_ + ": " + resolved.error().message};
    destination_ = std::move(resolved.value());
    for (const auto& warning : destination_.warnings) spdlog::warn("ssh config: {}", warning);

    const bool no = false;
    const int yes = 1;
    const unsigned int port = static_cast<unsigned int>(destination_.port);
    const long timeout_s = static_cast<long>(settings_.connect_timeout.count() / 1000);
    const long timeout_us = static_cast<long>((settings_.connect_timeout.count() % 1000) * 1000);
    const std::string known_hosts = known_hosts_file();
    if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_HOST, destination_.hostname.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_USER, destination_.user.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &yes) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_s) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &timeout_us) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes) != SSH_OK) {
      return Error{"ssh " + host_ + ": invalid connection options: " + libssh_error(s)};
    }
    for (const auto& identity : identity_files()) ssh_options_set(s, SSH_OPTIONS_ADD_IDENTITY, identity.c_str());

    endpoint_ = destination_.describe();
    const auto started = Clock::now();
    if (ssh_connect(s) != SSH_OK) {
      return Error{"ssh " + host_ + " (" + endpoint_ + "): cannot connect: " + libssh_error(s) + " (after " +
                   std::to_string(duration_cast<milliseconds>(Clock::now() - started).count()) +
                   " ms; check that the host is up and sshd listens on that address and port)"};
    }
    if (auto verified = verify_host_key(s); !verified) return verified.error();
    if (auto authenticated = authenticate(s); !authenticated) return authenticated.error();
    spdlog::info("ssh {} ({}): connected in {} ms", host_, endpoint_,
                 duration_cast<milliseconds>(Clock::now() - started).count());
    return session;
  }

  [[nodiscard]] SshConfigSources config_sources() const {
    SshConfigSources sources = default_ssh_config_sources();
    if (settings_.config_file) sources.files = {*settings_.config_file};
    return sources;
  }

  [[nodiscard]] std::string known_hosts_file() const {
    if (settings_.known_hosts_file) return *settings_.known_hosts_file;
    if (destination_.known_hosts_file) return *destination_.known_hosts_file;
    return default_ssh_config_sources().home + "/.ssh/known_hosts";
  }

  [[nodiscard]] std::vector<std::string> identity_files() const {
    std::vector<std::string> files = settings_.identity_files;
    files.insert(files.end(), destination_.identity_files.begin(), destination_.identity_files.end());
    return files;
  }

  bluegreen::Status verify_host_key(ssh_session s) const {
    ssh_key raw_key = nullptr;
    if (ssh_get_server_publickey(s, &raw_key) != SSH_OK) {
      return Error{"ssh " + host_ + ": the server sent no host key: " + libssh_error(s)};
    }
    KeyPtr key(raw_key);
    unsigned char* hash = nullptr;
    std::size_t hash_length = 0;
    std::string fingerprint = "unknown";
    if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_length) == SSH_OK) {
      char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_length);
      if (text != nullptr) fingerprint = text;
      ssh_string_free_char(text);
      ssh_clean_pubkey_hash(&hash);
    }
    const char* type_name = ssh_key_type_to_char(ssh_key_type(key.get()));
    const std::string key_text = std::string(type_name != nullptr ? type_name : "key") + " " + fingerprint;
    const std::string known_hosts = known_hosts_file();

    switch (ssh_session_is_known_server(s)) {
      case SSH_KNOWN_HOSTS_OK:
        return bluegreen::ok_status();
      case SSH_KNOWN_HOSTS_CHANGED:
      case SSH_KNOWN_HOSTS_OTHER:
        return Error{"ssh " + host_ + " (" + endpoint_ + "): REFUSED: the host key does not match " + known_hosts +
                     " (server now presents " + key_text +
                     "). This can mean a man-in-the-middle attack. If the host was legitimately reinstalled, "
                     "confirm the new fingerprint out of band, remove the old entry with ssh-keygen -R <host> -f " +
                     known_hosts + " and add the new key."};
      case SSH_KNOWN_HOSTS_NOT_FOUND:
      case SSH_KNOWN_HOSTS_UNKNOWN:
        return Error{"ssh " + host_ + " (" + endpoint_ + "): REFUSED: the host key is not known (" + key_text +
                     " is not in " + known_hosts +
                     "). Nothing is trusted on first use: confirm this fingerprint with the host's administrator, "
                     "then add it, e.g. ssh-keyscan -p <port> <address> >> " + known_hosts +
                     " (or connect once with ssh and accept it)."};
      case SSH_KNOWN_HOSTS_ERROR:
      default:
        return Error{"ssh " + host_ + ": cannot check the host key against " + known_hosts + ": " + libssh_error(s)};
    }
  }

  bluegreen::Status authenticate(ssh_session s) const {
    // Some servers only list their methods after a "none" attempt; its result does not matter.
    if (ssh_userauth_none(s, nullptr) == SSH_AUTH_SUCCESS) return bluegreen::ok_status();
    // IdentitiesOnly: offer just the configured files, never the agent's keys (a full agent can
    // exhaust the server's MaxAuthTries before the right key is offered).
    if (!destination_.identities_only) {
      if (ssh_userauth_publickey_auto(s, nullptr, nullptr) == SSH_AUTH_SUCCESS) return bluegreen::ok_status();
    }
    std::string tried = destination_.identities_only ? "" : "ssh-agent and default identities";
    for (const auto& file : identity_files()) {
      ssh_key raw = nullptr;
      if (ssh_pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK) continue;
      KeyPtr key(raw);
      tried += (tried.empty() ? "" : ", ") + file;
      if (ssh_userauth_publickey(s, nullptr, key.get()) == SSH_AUTH_SUCCESS) return bluegreen::ok_status();
    }
    return Error{"ssh " + host_ + " (" + endpoint_ + "): authentication failed (tried " +
                 (tried.empty() ? std::string("no usable key") : tried) + "): " + libssh_error(s) +
                 ". Check the user and that the public key is in the host's authorized_keys."};
  }

  void close_sftp() {
    sftp_.reset();
    sftp_in_.clear();
    sftp_out_.clear();
  }

  using Failure = std::optional<sftp::Failure>;

  Failure lost_or_broken(const std::string& doing) {
    const std::string why = doing + ": " + libssh_error(session_.get());
    if (ssh_is_connected(session_.get()) == 0) return sftp::Failure{sftp::Failure::Kind::kLost, why};
    return sftp::Failure{sftp::Failure::Kind::kBroken, why};
  }

  // Opens the SFTP channel and agrees on version 3.
  Failure start_sftp(const CommandOptions& options, Clock::time_point deadline) {
    auto channel = open_channel();
    if (!channel) return sftp::Failure{sftp::Failure::Kind::kEnded, channel.error().message};
    if (ssh_channel_request_subsystem(channel->get(), "sftp") != SSH_OK) {
      const bool connected = ssh_is_connected(session_.get()) != 0;
      const std::string why = "the host offers no SFTP subsystem: " + libssh_error(session_.get());
      return sftp::Failure{connected ? sftp::Failure::Kind::kBroken : sftp::Failure::Kind::kLost, why};
    }
    sftp_ = std::move(channel.value());
    std::string version;
    sftp::put_u32(version, 3);
    queue(sftp::kInit, version);
    if (auto failure = flush()) return failure;
    sftp::Packet reply;
    if (auto failure = receive(reply, options, deadline)) return failure;
    if (reply.type != sftp::kVersion) {
      return sftp::Failure{sftp::Failure::Kind::kBroken,
                           "the SFTP server answered INIT with packet type " + std::to_string(reply.type)};
    }
    return std::nullopt;
  }

  void queue(std::uint8_t type, const std::string& body) {
    sftp::put_u32(sftp_out_, static_cast<std::uint32_t>(body.size() + 1));
    sftp_out_.push_back(static_cast<char>(type));
    sftp_out_ += body;
  }

  Failure flush() {
    const auto size = static_cast<std::uint32_t>(sftp_out_.size());
    if (size > 0 && ssh_channel_write(sftp_.get(), sftp_out_.data(), size) != static_cast<int>(size)) {
      return lost_or_broken("writing to the SFTP channel");
    }
    sftp_out_.clear();
    return std::nullopt;
  }

  // Waits for the next packet from the SFTP server.
  Failure receive(sftp::Packet& packet, const CommandOptions& options, Clock::time_point deadline) {
    std::array<char, 65536> buffer{};
    while (true) {
      if (sftp_in_.size() >= 4) {
        const auto length = sftp::get_u32(sftp_in_, 0);
        if (length == 0 || length > sftp::kMaxPacket) {
          return sftp::Failure{sftp::Failure::Kind::kBroken, "the SFTP server sent a malformed packet"};
        }
        if (sftp_in_.size() >= std::size_t{4} + length) {
          packet.type = static_cast<std::uint8_t>(sftp_in_[4]);
          packet.body.assign(sftp_in_, 5, length - 1);
          sftp_in_.erase(0, std::size_t{4} + length);
          return std::nullopt;
        }
      }
      bool progressed = false;
      // stderr is drained and dropped, so it cannot fill the window. stdout is read last: a read
      // handles every packet that has arrived, for both streams, so stdout data that came in
      // during the stderr read is found here, not left in libssh's buffer while poll() waits.
      for (const int is_stderr : {1, 0}) {
        const int n = ssh_channel_read_nonblocking(sftp_.get(), buffer.data(), buffer.size(), is_stderr);
        if (n > 0) {
          if (is_stderr == 0) sftp_in_.append(buffer.data(), static_cast<std::size_t>(n));
          progressed = true;
        } else if (n == SSH_ERROR) {
          return lost_or_broken("reading the SFTP channel");
        }
      }
      if (progressed) continue;
      if (ssh_channel_is_eof(sftp_.get()) != 0) {
        return sftp::Failure{sftp::Failure::Kind::kBroken, "the SFTP server closed its channel"};
      }
      if (options.stop.stop_requested()) {
        return sftp::Failure{sftp::Failure::Kind::kEnded, "cancelled while reading files on " + host_};
      }
      if (Clock::now() >= deadline) {
        return sftp::Failure{sftp::Failure::Kind::kEnded, "deadline of " + std::to_string(options.deadline.count()) +
                                                              " ms passed while reading files on " + host_};
      }
      if (!wait_readable(session_.get(), deadline)) return lost_or_broken("polling the connection");
    }
  }

  // Opens every file, reads each to its end, closes it: about three rounds of pipelined requests
  // on a warm channel (one more per 64 KiB of the largest file).
  Failure sftp_exchange(const std::vector<std::string>& paths, const CommandOptions& options,
                        Clock::time_point deadline, std::vector<FileRead>& files, bool& at_start) {
    at_start = !sftp_;
    if (!sftp_) {
      if (auto failure = start_sftp(options, deadline)) return failure;
    }
    at_start = false;
    files.assign(paths.size(), FileRead{});
    std::vector<std::string> handles(paths.size());
    struct Request {
      std::size_t file;
      std::uint8_t type;
    };
    std::map<std::uint32_t, Request> pending;  // by request id
    const auto request = [&](std::uint8_t type, std::size_t file, const std::string& fields) {
      const std::uint32_t id = sftp_next_id_++;
      std::string body;
      sftp::put_u32(body, id);
      body += fields;
      queue(type, body);
      pending.emplace(id, Request{file, type});
    };
    const auto read_more = [&](std::size_t file) {
      std::string fields;
      sftp::put_string(fields, handles[file]);
      sftp::put_u64(fields, files[file].content.size());
      sftp::put_u32(fields, sftp::kReadChunk);
      request(sftp::kRead, file, fields);
    };
    const auto close = [&](std::size_t file) {
      std::string fields;
      sftp::put_string(fields, handles[file]);
      request(sftp::kClose, file, fields);
    };
    const auto fail_file = [&](std::size_t file, std::string problem) {
      files[file].content.clear();
      files[file].problem = std::move(problem);
    };

    for (std::size_t file = 0; file < paths.size(); ++file) {
      std::string fields;
      sftp::put_string(fields, paths[file]);
      sftp::put_u32(fields, sftp::kOpenForReading);
      sftp::put_u32(fields, 0);  // no attributes
      request(sftp::kOpen, file, fields);
    }
    while (!pending.empty()) {
      if (auto failure = flush()) return failure;
      sftp::Packet reply;
      if (auto failure = receive(reply, options, deadline)) return failure;
      sftp::Fields fields(reply.body);
      const auto found = pending.find(fields.u32());
      if (!fields.ok() || found == pending.end()) {
        return sftp::Failure{sftp::Failure::Kind::kBroken, "the SFTP server answered a request that was not made"};
      }
      const Request answered = found->second;
      pending.erase(found);
      const std::size_t file = answered.file;
      std::uint32_t code = 0;
      std::string status;
      if (reply.type == sftp::kStatus) {
        code = fields.u32();
        status = sftp::status_text(code, fields.at_end() ? std::string_view() : fields.string());  // message optional
      }
      bool understood = true;
      if (answered.type == sftp::kOpen) {
        if (reply.type == sftp::kHandle) {
          handles[file] = std::string(fields.string());
          read_more(file);  // reading starts while the other opens are answered
        } else if (reply.type == sftp::kStatus) {
          if (code == sftp::kStatusNoSuchFile) files[file].missing = true;
          else fail_file(file, "cannot open it: " + status);
        } else {
          understood = false;
        }
      } else if (answered.type == sftp::kRead) {
        if (reply.type == sftp::kData) {
          files[file].content.append(fields.string());
          if (files[file].content.size() <= options.output_cap_bytes) {
            read_more(file);
          } else {
            fail_file(file, "larger than " + std::to_string(options.output_cap_bytes) + " bytes");
            close(file);
          }
        } else if (reply.type == sftp::kStatus) {
          if (code != sftp::kStatusEof) fail_file(file, status);
          close(file);
        } else {
          understood = false;
        }
      } else {
        understood = reply.type == sftp::kStatus;  // CLOSE: the file is read already
      }
      if (!understood || !fields.ok()) {
        return sftp::Failure{sftp::Failure::Kind::kBroken,
                             "the SFTP server sent packet type " + std::to_string(reply.type) + " in an unexpected place"};
      }
    }
    return std::nullopt;
  }

  const std::string host_;
  const SshSettings& settings_;
  SessionPtr session_;
  ChannelPtr sftp_;          // the SFTP channel, kept between reads; freed before the session
  std::string sftp_in_;      // received bytes not yet taken as packets
  std::string sftp_out_;     // requests not yet written
  std::uint32_t sftp_next_id_ = 1;
  std::set<ChannelPtr*> held_;
  SshDestination destination_;
  std::string endpoint_;
};

SshExecutor::SshExecutor(SshSettings settings) : settings_(std::move(settings)) {}

SshExecutor::~SshExecutor() = default;

std::shared_ptr<SshExecutor::Connection> SshExecutor::connection_for(const std::string& host) {
  std::lock_guard lock(mutex_);
  auto& connection = connections_[host];
  if (!connection) connection = std::make_shared<Connection>(host, settings_);
  return connection;
}

bluegreen::Status SshExecutor::connect(const std::string& host) {
  auto connection = connection_for(host);
  std::lock_guard lock(connection->mutex);
  return connection->ensure_connected();
}

bluegreen::Result<CommandResult> SshExecutor::run(const std::string& host, const std::string& command,
                                                  const CommandOptions& options) {
  auto connection = connection_for(host);
  std::lock_guard lock(connection->mutex);
  const auto started = Clock::now();

  // The host enforces the deadline too (unless options.host_timeout is off), so the command ends
  // even if this connection drops. The first stderr line carries the remote PID, so a
  // cancellation can kill the command (sshd refuses SSH "signal" requests in some setups, e.g.
  // root logins).
  const std::string wrapped =
      "printf '" + std::string(kPidMarker) + "%s\\n' \"$$\" >&2; exec " +
      (options.host_timeout ? "timeout --signal=TERM --kill-after=" + seconds_text(settings_.stop_grace) + " " +
                                  seconds_text(options.deadline) + " "
                            : std::string()) +
      "sh -c " + shell_quote(command);
  auto started_channel = connection->start(wrapped);
  if (!started_channel) return started_channel.error();
  ChannelPtr channel = std::move(started_channel.value());
  ssh_session session = connection->session();

  CommandResult result;

  const auto deadline = started + options.deadline;
  std::optional<Clock::time_point> give_up_at;  // set once we asked the command to stop
  bool stdout_done = false;
  bool stderr_done = false;
  bool connection_lost = false;
  PidLine pid_line;
  bool pid_line_done = false;
  std::array<char, 65536> buffer{};

  while (!(stdout_done && stderr_done)) {
    bool read_something = false;
    for (const int is_stderr : {0, 1}) {
      bool& done = is_stderr != 0 ? stderr_done : stdout_done;
      CapturedOutput& output = is_stderr != 0 ? result.err : result.out;
      while (!done) {
        const int n = ssh_channel_read_nonblocking(channel.get(), buffer.data(), buffer.size(), is_stderr);
        if (n > 0) {
          std::string_view data(buffer.data(), static_cast<std::size_t>(n));
          if (is_stderr != 0 && !pid_line_done) data = pid_line.consume(data, pid_line_done);
          append_capped(output, data.data(), data.size(), options.output_cap_bytes);
          read_something = true;
        } else if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(channel.get()) != 0)) {
          done = true;
          read_something = true;  // state changed: look at the other stream again before waiting
        } else if (n == 0) {
          break;
        } else {
          connection_lost = true;
          break;
        }
      }
    }
    if (connection_lost) break;
    if (read_something) continue;

    const auto now = Clock::now();
    if (!give_up_at && (now >= deadline || options.stop.stop_requested())) {
      result.timed_out = now >= deadline && !options.stop.stop_requested();
      result.cancelled = options.stop.stop_requested();
      stop_remote_command(session, channel.get(), pid_line.pid(), !options.host_timeout, host);
      give_up_at = now + settings_.stop_grace;
      spdlog::info("ssh {}: {} command; sent TERM", host, result.cancelled ? "cancelling" : "deadline passed for");
    }
    if (give_up_at && now >= *give_up_at) break;

    // Wait for the socket rather than spinning. Every complete packet already received has been
    // processed by the reads above, so a readable socket is the only thing that can bring more.
    const auto until = give_up_at ? *give_up_at : deadline;
    const auto slice = std::clamp(duration_cast<milliseconds>(until - now), milliseconds(1), milliseconds(50));
    pollfd socket{ssh_get_fd(session), POLLIN, 0};
    if (::poll(&socket, 1, static_cast<int>(slice.count())) < 0 && errno != EINTR) {
      connection_lost = true;
      break;
    }
  }

  finish_capped(result.out, options.output_cap_bytes);
  finish_capped(result.err, options.output_cap_bytes);

  if (connection_lost) {
    result.problem = "connection to " + host + " lost: " + libssh_error(session);
  } else if (stdout_done && stderr_done) {
    const int status = ssh_channel_get_exit_status(channel.get());
    if (status >= 0) {
      result.exit_status = status;
      // `timeout` exits 124 when it had to stop the command.
      if (status == 124 && Clock::now() >= deadline) result.timed_out = true;
    } else {
      result.problem = "the command ended without an exit status (killed by a signal?)";
    }
  } else {
    result.problem = "the command did not stop within " + std::to_string(settings_.stop_grace.count()) +
                     " ms of TERM; channel closed";
  }
  if (result.timed_out || result.cancelled) result.exit_status.reset();
  if (result.timed_out && result.problem.empty()) {
    result.problem = "deadline of " + std::to_string(options.deadline.count()) + " ms passed";
  }
  if (result.cancelled && result.problem.empty()) result.problem = "cancelled";

  if (!connection_lost) ssh_channel_send_eof(channel.get());
  channel.reset();  // a channel must go before its session
  if (connection_lost) connection->drop();
  result.duration = duration_cast<milliseconds>(Clock::now() - started);
  return result;
}

bluegreen::Result<SocketReply> SshExecutor::query_unix_socket(const std::string& host, const std::string& socket_path,
                                                              const std::string& request,
                                                              const CommandOptions& options) {
  auto connection = connection_for(host);
  const auto started = Clock::now();
  const auto deadline = started + options.deadline;
  std::string refused;  // why the host would not forward the socket, when it would not
  {
    std::lock_guard lock(connection->mutex);
    if (!connection->streamlocal_refused) {
      auto reply = connection->forward(socket_path, request, options, deadline, refused);
      if (refused.empty()) {
        if (reply) {
          reply->duration = duration_cast<milliseconds>(Clock::now() - started);
          connection->refusal_suspected.reset();  // forwarding works: what was refused was a passing hiccup
        }
        return reply;
      }
    }
  }

  // The host refuses direct-streamlocal channels, or sshd could not connect to this socket (it
  // does not say which). socat on the host tells them apart and says exactly what is wrong.
  CommandOptions rest = options;
  rest.deadline = std::max(milliseconds(1), duration_cast<milliseconds>(deadline - Clock::now()));
  auto reply = Executor::query_unix_socket(host, socket_path, request, rest);
  if (refused.empty()) return reply;  // this session was already known to refuse forwarding
  if (!reply) {
    return Error{reply.error().message + " (forwarding the socket through SSH failed too: " + refused + ")"};
  }
  reply->duration = duration_cast<milliseconds>(Clock::now() - started);
  std::lock_guard lock(connection->mutex);
  if (connection->streamlocal_refused) return reply;
  // socat reached the socket. Either sshd does not forward, or the socket was briefly away and is
  // back. sshd gives the same answer for both, and a reloading HAProxy master refuses connections
  // in short windows more than once while it restarts, so one refusal right after socat's success
  // proves nothing. Forwarding counts as refused only when that happens again at least
  // kRefusalConfirmAfter later with no forwarded query succeeding in between; until then each query
  // tries forwarding first (a refused channel costs one round trip).
  // (Within what is left of the deadline; without time for it, the next query finds out.)
  std::string refused_again;
  if (Clock::now() >= deadline || connection->open_forward(socket_path, options, deadline, refused_again).ok() ||
      refused_again.empty()) {
    connection->refusal_suspected.reset();
    return reply;
  }
  const auto now = Clock::now();
  if (!connection->refusal_suspected) {
    connection->refusal_suspected = now;
    spdlog::debug("ssh {}: sshd did not forward {} ({}) though socat reached it; forwarding again next time",
                  host, socket_path, refused);
    return reply;
  }
  if (now - *connection->refusal_suspected < kRefusalConfirmAfter) return reply;
  connection->streamlocal_refused = true;
  spdlog::warn("ssh {}: the host refuses to forward UNIX sockets ({}), but socat reaches {}: using socat for "
               "socket queries on this connection (a few ms slower each). To allow forwarding, set "
               "AllowStreamLocalForwarding yes in its sshd_config and do not use no-port-forwarding on the key.",
               host, refused, socket_path);
  return reply;
}

bluegreen::Result<std::vector<FileRead>> SshExecutor::read_files(const std::string& host,
                                                                 const std::vector<std::string>& paths,
                                                                 const CommandOptions& options) {
  if (paths.empty()) return std::vector<FileRead>();
  auto connection = connection_for(host);
  const auto deadline = Clock::now() + options.deadline;
  std::string unusable;  // why the host's SFTP server cannot be used, when it cannot
  bool at_start = false;  // and whether it could not even be started
  {
    std::lock_guard lock(connection->mutex);
    if (!connection->sftp_unusable) {
      auto files = connection->sftp_read(paths, options, deadline, unusable, at_start);
      if (unusable.empty()) return files;
    }
  }

  // No SFTP here (sshd without the subsystem, a forced command, ...) or the SFTP server failed:
  // `cat` through run(). Only a host where SFTP cannot even start is left to cat from now on; after
  // any other failure the next read opens a new SFTP channel.
  CommandOptions rest = options;
  rest.deadline = std::max(milliseconds(1), duration_cast<milliseconds>(deadline - Clock::now()));
  auto files = Executor::read_files(host, paths, rest);
  if (!unusable.empty() && at_start && files) {
    std::lock_guard lock(connection->mutex);
    if (!connection->sftp_unusable) {
      connection->sftp_unusable = true;
      spdlog::warn("ssh {}: cannot read files over SFTP ({}): reading them with cat on this connection instead "
                   "(a few ms slower each time). To use SFTP, enable the sftp Subsystem in its sshd_config.",
                   host, unusable);
    }
  }
  return files;
}

class SshExecutor::HeldChannel final : public HeldProcess {
 public:
  HeldChannel(std::shared_ptr<Connection> connection, ChannelPtr channel)
      : connection_(std::move(connection)), channel_(std::move(channel)) {}

  ~HeldChannel() override {
    std::lock_guard lock(connection_->mutex);
    connection_->untrack(&channel_);
    if (channel_) {
      ssh_channel_send_eof(channel_.get());  // the holder's stdin ends: it exits and releases
      channel_.reset();
    }
  }
  HeldChannel(const HeldChannel&) = delete;
  HeldChannel& operator=(const HeldChannel&) = delete;

  bool alive() override {
    std::lock_guard lock(connection_->mutex);
    if (!channel_ || ssh_channel_is_open(channel_.get()) == 0) return false;
    // Process whatever arrived, so an exit or a lost connection is noticed now.
    std::array<char, 4096> sink{};
    while (true) {
      const int n = ssh_channel_read_nonblocking(channel_.get(), sink.data(), sink.size(), 0);
      if (n == 0) break;
      if (n < 0) return false;
    }
    return ssh_channel_is_eof(channel_.get()) == 0 && ssh_is_connected(connection_->session()) != 0;
  }

  ChannelPtr& channel() { return channel_; }

 private:
  std::shared_ptr<Connection> connection_;
  ChannelPtr channel_;
};

bluegreen::Result<std::unique_ptr<HeldProcess>> SshExecutor::hold(const std::string& host, const std::string& command,
                                                                  const std::string& ready_line,
                                                                  const CommandOptions& options) {
  auto connection = connection_for(host);
  std::lock_guard lock(connection->mutex);
  const auto started = Clock::now();
  auto started_channel = connection->start(command);
  if (!started_channel) return started_channel.error();
  ChannelPtr channel = std::move(started_channel.value());
  ssh_session session = connection->session();

  std::string out;
  std::string err;
  std::array<char, 4096> buffer{};
  const std::string marker = ready_line + "\n";
  while (true) {
    bool progressed = false;
    for (const int is_stderr : {0, 1}) {
      const int n = ssh_channel_read_nonblocking(channel.get(), buffer.data(), buffer.size(), is_stderr);
      if (n > 0) {
        (is_stderr != 0 ? err : out).append(buffer.data(), static_cast<std::size_t>(n));
        progressed = true;
      } else if (n == SSH_ERROR) {
        const std::string why = libssh_error(session);
        channel.reset();
        connection->drop();
        return Error{"ssh " + host + ": connection lost while starting: " + why};
      }
    }
    if (out.rfind(marker, 0) == 0 || out.find("\n" + marker) != std::string::npos) break;
    if (ssh_channel_is_eof(channel.get()) != 0 && !progressed) {
      const int status = ssh_channel_get_exit_status(channel.get());
      channel.reset();
      return Error{"exited with status " + std::to_string(status) + " before it was ready" +
                       (err.empty() ? std::string() : "; stderr: " + err.substr(0, 2000)) +
                       (out.empty() ? std::string() : "; stdout: " + out.substr(0, 2000)),
                   bluegreen::ErrorCode::kFailedPrecondition, status};
    }
    if (progressed) continue;
    const auto now = Clock::now();
    if (options.stop.stop_requested()) return Error{"cancelled while waiting", bluegreen::ErrorCode::kCancelled};
    if (now >= started + options.deadline) {
      return Error{"not ready within " + std::to_string(options.deadline.count()) + " ms",
                   bluegreen::ErrorCode::kDeadlineExceeded};
    }
    const auto slice = std::clamp(duration_cast<milliseconds>(started + options.deadline - now), milliseconds(1),
                                  milliseconds(50));
    pollfd socket{ssh_get_fd(session), POLLIN, 0};
    if (::poll(&socket, 1, static_cast<int>(slice.count())) < 0 && errno != EINTR) {
      return Error{"ssh " + host + ": polling the connection failed"};
    }
  }
  auto held = std::make_unique<HeldChannel>(connection, std::move(channel));
  connection->track(&held->channel());
  return std::unique_ptr<HeldProcess>(std::move(held));
}

}  // namespace remote
