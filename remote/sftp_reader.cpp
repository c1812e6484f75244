#include "remote/sftp_reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

namespace bluegreen::remote {
namespace {

using bluegreen::Error;
using bluegreen::ErrorCode;
using Clock = SshClock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

}  // namespace

SftpReader::SftpReader(SshConnection& connection) : connection_(connection) { connection_.track(&channel_); }

SftpReader::~SftpReader() {
  channel_.reset();
  connection_.untrack(&channel_);
}

bool SftpReader::unusable() const { return unusable_on_ && *unusable_on_ == connection_.generation(); }

bluegreen::Result<std::vector<FileRead>> SftpReader::read_files(const std::vector<std::string>& paths,
                                                                const CommandOptions& options,
                                                                const Fallback& read_with_cat) {
  if (paths.empty()) return std::vector<FileRead>();
  const auto deadline = Clock::now() + options.deadline;
  std::string unusable_why;  // why the host's SFTP server cannot be used, when it cannot
  bool at_start = false;     // and whether it could not even be started
  {
    auto lock = connection_.lock();
    if (!unusable()) {
      auto files = read_with_retry(paths, options, deadline, unusable_why, at_start);
      if (unusable_why.empty()) return files;
    }
  }

  // No SFTP here (sshd without the subsystem, a forced command, ...) or the SFTP server failed:
  // `cat`. Only a host where SFTP cannot even start is left to cat from now on; after any other
  // failure the next read opens a new SFTP channel.
  CommandOptions rest = options;
  rest.deadline = std::max(milliseconds(1), duration_cast<milliseconds>(deadline - Clock::now()));
  auto files = read_with_cat(rest);
  if (!unusable_why.empty() && at_start && files) {
    auto lock = connection_.lock();
    if (!unusable()) {
      unusable_on_ = connection_.generation();
      spdlog::warn("ssh {}: cannot read files over SFTP ({}): reading them with cat on this connection instead "
                   "(one process on the host per call, as slow as its login shell starts). To use SFTP, enable the "
                   "sftp Subsystem in its sshd_config.",
                   connection_.host(), unusable_why);
    }
  }
  return files;
}

// When the SFTP server cannot be used, returns an Error and sets `unusable` to why, and `at_start`
// when that was already so while starting it (no SFTP subsystem, not an SFTP server).
bluegreen::Result<std::vector<FileRead>> SftpReader::read_with_retry(const std::vector<std::string>& paths,
                                                                     const CommandOptions& options,
                                                                     Clock::time_point deadline, std::string& unusable,
                                                                     bool& at_start) {
  const std::string& host = connection_.host();
  for (int attempt = 0;; ++attempt) {
    std::vector<FileRead> files;
    auto failure = exchange(paths, options, deadline, files, at_start);
    if (!failure) return files;
    close();  // its state is unknown now
    switch (failure->kind) {
      case Failure::Kind::kEnded: return Error{failure->message, failure->code};
      case Failure::Kind::kBroken:
        unusable = failure->message;
        return Error{"ssh " + host + ": cannot read files over SFTP: " + failure->message,
                     ErrorCode::kFailedPrecondition};
      case Failure::Kind::kLost:
        connection_.drop();
        if (attempt > 0 || Clock::now() >= deadline) {
          return Error{"ssh " + host + ": connection lost while reading files: " + failure->message,
                       ErrorCode::kUnavailable};
        }
        spdlog::warn("ssh {}: connection lost while reading files ({}); reconnecting", host, failure->message);
    }
  }
}

SftpReader::MaybeFailure SftpReader::exchange(const std::vector<std::string>& paths, const CommandOptions& options,
                                              Clock::time_point deadline, std::vector<FileRead>& files,
                                              bool& at_start) {
  at_start = !channel_;
  if (!channel_) {
    if (auto failure = start(options, deadline)) return failure;
  }
  at_start = false;
  sftp::FileReadExchange reads(paths, options.output_cap_bytes, next_id_);
  std::string requests = reads.start();
  while (!reads.finished()) {
    next_id_ = reads.next_id();
    if (auto failure = send(requests)) return failure;
    sftp::Packet reply;
    if (auto failure = receive(reply, options, deadline)) return failure;
    auto more = reads.on_reply(reply);
    if (!more) return Failure{Failure::Kind::kBroken, more.error().message};
    requests = std::move(more.value());
  }
  next_id_ = reads.next_id();
  files = reads.take_files();
  return std::nullopt;
}

// Opens the SFTP channel and agrees on version 3.
SftpReader::MaybeFailure SftpReader::start(const CommandOptions& options, Clock::time_point deadline) {
  received_.clear();
  auto channel = connection_.open_channel();
  if (!channel) return Failure{Failure::Kind::kEnded, channel.error().message, channel.error().code};
  if (ssh_channel_request_subsystem(channel->get(), "sftp") != SSH_OK) {
    const bool connected = connection_.connected();
    const std::string why = "the host offers no SFTP subsystem: " + libssh_error(connection_.session());
    return Failure{connected ? Failure::Kind::kBroken : Failure::Kind::kLost, why};
  }
  channel_ = std::move(channel.value());
  if (auto failure = send(sftp::init_request())) return failure;
  sftp::Packet reply;
  if (auto failure = receive(reply, options, deadline)) return failure;
  if (auto version = sftp::check_version(reply); !version) {
    return Failure{Failure::Kind::kBroken, version.error().message};
  }
  return std::nullopt;
}

SftpReader::MaybeFailure SftpReader::send(const std::string& bytes) {
  const auto size = static_cast<std::uint32_t>(bytes.size());
  if (size > 0 && ssh_channel_write(channel_.get(), bytes.data(), size) != static_cast<int>(size)) {
    return lost_or_broken("writing to the SFTP channel");
  }
  return std::nullopt;
}

// Waits for the next packet from the SFTP server.
SftpReader::MaybeFailure SftpReader::receive(sftp::Packet& packet, const CommandOptions& options,
                                             Clock::time_point deadline) {
  const std::string& host = connection_.host();
  std::array<char, 65536> buffer{};
  while (true) {
    auto taken = sftp::take_packet(received_);
    if (!taken) return Failure{Failure::Kind::kBroken, taken.error().message};
    if (*taken) {
      packet = std::move(**taken);
      return std::nullopt;
    }
    bool progressed = false;
    // stderr is drained and dropped, so it cannot fill the window. stdout is read last: a read
    // handles every packet that has arrived, for both streams, so stdout data that came in
    // during the stderr read is found here, not left in libssh's buffer while poll() waits.
    for (const int is_stderr : {1, 0}) {
      const int n = ssh_channel_read_nonblocking(channel_.get(), buffer.data(), buffer.size(), is_stderr);
      if (n > 0) {
        if (is_stderr == 0) received_.append(buffer.data(), static_cast<std::size_t>(n));
        progressed = true;
      } else if (n == SSH_ERROR) {
        return lost_or_broken("reading the SFTP channel");
      }
    }
    if (progressed) continue;
    if (ssh_channel_is_eof(channel_.get()) != 0) {
      return Failure{Failure::Kind::kBroken, "the SFTP server closed its channel"};
    }
    if (options.stop.stop_requested()) {
      return Failure{Failure::Kind::kEnded, "cancelled while reading files on " + host, ErrorCode::kCancelled};
    }
    if (Clock::now() >= deadline) {
      return Failure{Failure::Kind::kEnded,
                     "deadline of " + std::to_string(options.deadline.count()) + " ms passed while reading files on " +
                         host,
                     ErrorCode::kDeadlineExceeded};
    }
    if (!wait_readable(connection_.session(), deadline)) return lost_or_broken("polling the connection");
  }
}

SftpReader::MaybeFailure SftpReader::lost_or_broken(const std::string& doing) {
  const std::string why = doing + ": " + libssh_error(connection_.session());
  if (!connection_.connected()) return Failure{Failure::Kind::kLost, why};
  return Failure{Failure::Kind::kBroken, why};
}

void SftpReader::close() {
  channel_.reset();
  received_.clear();
}

}  // namespace bluegreen::remote
