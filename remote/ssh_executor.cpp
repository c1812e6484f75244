#include "remote/ssh_executor.h"

#include "remote/shell_command.h"
#include "remote/ssh_config.h"

#include <libssh/libssh.h>
#include <spdlog/spdlog.h>

#include <array>
#include <set>
#include <cerrno>
#include <poll.h>
#include <cstdio>
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
// `timeout` passes TERM on to the command), falling back to an SSH signal request.
void stop_remote_command(ssh_session session, ssh_channel running, const std::string& pid, const std::string& host) {
  if (pid.empty()) {
    ssh_channel_request_send_signal(running, "TERM");
    return;
  }
  ChannelPtr killer(ssh_channel_new(session));
  const std::string command = "kill -TERM " + pid + " 2>/dev/null";
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
    return bluegreen::ok_status();
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

  const std::string host_;
  const SshSettings& settings_;
  SessionPtr session_;
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

  // The host enforces the deadline too, so the command ends even if this connection drops. The
  // first stderr line carries the remote PID, so a cancellation can kill the command (sshd
  // refuses SSH "signal" requests in some setups, e.g. root logins).
  const std::string wrapped = "printf '" + std::string(kPidMarker) + "%s\\n' \"$$\" >&2; exec timeout --signal=TERM --kill-after=" +
                              seconds_text(settings_.stop_grace) + " " + seconds_text(options.deadline) + " sh -c " +
                              shell_quote(command);
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
      stop_remote_command(session, channel.get(), pid_line.pid(), host);
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
                   (out.empty() ? std::string() : "; stdout: " + out.substr(0, 2000))};
    }
    if (progressed) continue;
    const auto now = Clock::now();
    if (options.stop.stop_requested()) return Error{"cancelled while waiting"};
    if (now >= started + options.deadline) {
      return Error{"not ready within " + std::to_string(options.deadline.count()) + " ms"};
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
