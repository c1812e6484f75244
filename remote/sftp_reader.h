#pragma once
// Internal to remote/ (SshExecutor's parts): reads whole files over SFTP on a channel kept open per
// session (one sftp-server process per connection on the host, none per read). The protocol is in
// sftp_codec.h; this part only moves its bytes over the libssh channel, with the same non-blocking
// reads, poll, deadline and stop handling as commands.
//
// Where SFTP fails it falls back to `cat` through the given fallback; where no SFTP server can be
// started at all (no sftp Subsystem, a forced command) it stays with `cat` until the session is
// replaced (a new session may be allowed what the last one was not).
//
// Thread-safety: one SftpReader per connection (session), next to it in the pool. read_files() takes the
// connection's lock itself and must be called without it.

#include "common/result.h"
#include "remote/executor.h"
#include "remote/libssh_support.h"
#include "remote/sftp_codec.h"
#include "remote/ssh_connection.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::remote {

class SftpReader {
 public:
  // `connection` must outlive the reader. The SFTP channel is tracked on it, so dropping the
  // session frees the channel first.
  explicit SftpReader(SshConnection& connection);
  ~SftpReader();
  SftpReader(const SftpReader&) = delete;
  SftpReader& operator=(const SftpReader&) = delete;

  // What the host answers when SFTP is not usable: `cat` through Executor::read_files(), given
  // what is left of the deadline (at least 1 ms). Called without the connection's lock.
  using Fallback = std::function<bluegreen::Result<std::vector<FileRead>>(const CommandOptions&)>;

  // Executor::read_files() for this host: one FileRead per path, in order; a file over
  // options.output_cap_bytes is a problem, never truncated. Retries once on a new session when
  // the connection was lost (reads change nothing). Errors: kDeadlineExceeded, kCancelled, those
  // of SshConnection::ensure_connected(), kUnavailable when the connection is lost twice, or the
  // fallback's.
  bluegreen::Result<std::vector<FileRead>> read_files(const std::vector<std::string>& paths,
                                                      const CommandOptions& options, const Fallback& read_with_cat);

 private:
  // Why an SFTP exchange ended early. kLost: the session is gone (one retry on a new session is
  // safe). kBroken: the host has no usable SFTP server (read the files another way). kEnded: the
  // deadline passed, `stop` was requested, or the host cannot be reached (`code` says which).
  struct Failure {
    enum class Kind { kLost, kBroken, kEnded } kind;
    std::string message;
    bluegreen::ErrorCode code = bluegreen::ErrorCode::kFailed;
  };
  using MaybeFailure = std::optional<Failure>;

  bluegreen::Result<std::vector<FileRead>> read_with_retry(const std::vector<std::string>& paths,
                                                           const CommandOptions& options, SshClock::time_point deadline,
                                                           std::string& unusable, bool& at_start);
  MaybeFailure exchange(const std::vector<std::string>& paths, const CommandOptions& options,
                        SshClock::time_point deadline, std::vector<FileRead>& files, bool& at_start);
  MaybeFailure start(const CommandOptions& options, SshClock::time_point deadline);
  MaybeFailure send(const std::string& bytes);
  MaybeFailure receive(sftp::Packet& packet, const CommandOptions& options, SshClock::time_point deadline);
  MaybeFailure lost_or_broken(const std::string& doing);
  void close();
  [[nodiscard]] bool unusable() const;

  SshConnection& connection_;
  ChannelPtr channel_;    // the SFTP channel, kept between reads; null when not open
  std::string received_;  // bytes received and not yet taken as packets
  std::uint32_t next_id_ = 1;
  std::optional<std::uint64_t> unusable_on_;  // the session generation where SFTP could not start
};

}  // namespace bluegreen::remote
