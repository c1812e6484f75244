#pragma once
// Internal to remote/ (SshExecutor's SFTP reader and its unit tests): SFTP version 3 as bytes, with
// no I/O and no libssh. Just what reading whole files needs: INIT, OPEN (read-only), READ, FSTAT,
// CLOSE and their replies (VERSION, STATUS, HANDLE, DATA, ATTRS).
//
// Source: draft-ietf-secsh-filexfer-02 (SFTP protocol version 3, the version OpenSSH's
// sftp-server speaks). Every packet is `uint32 length` (big-endian; counts the bytes after it),
// `byte type`, then the type's fields; every request and reply after INIT/VERSION starts with
// `uint32 request-id`. Strings are `uint32 length` + bytes.
//
// Why by hand: libssh's sftp functions wait without limit for a server that stops answering, so
// the reader drives the protocol itself with the deadline and stop handling of every other call.
// Keeping the bytes here, apart from the channel, lets every malformed-input path be unit tested.
//
// Input from the server is untrusted: every parser checks every length before it reads and
// reports malformed input as an Error (or nullopt where documented), never reading out of bounds.
//
// Thread-safety: free functions are pure; a FileReadExchange is a plain value used by one thread
// at a time.

#include "common/result.h"
#include "remote/executor.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bluegreen::remote::sftp {

// Packet types and status codes (draft-ietf-secsh-filexfer-02 sections 3 and 7).
constexpr std::uint8_t kInit = 1;
constexpr std::uint8_t kVersion = 2;
constexpr std::uint8_t kOpen = 3;
constexpr std::uint8_t kClose = 4;
constexpr std::uint8_t kRead = 5;
constexpr std::uint8_t kFstat = 8;
constexpr std::uint8_t kStatus = 101;
constexpr std::uint8_t kHandle = 102;
constexpr std::uint8_t kData = 103;
constexpr std::uint8_t kAttrs = 105;
constexpr std::uint32_t kStatusOk = 0;
constexpr std::uint32_t kStatusEof = 1;
constexpr std::uint32_t kStatusNoSuchFile = 2;
constexpr std::uint32_t kStatusPermissionDenied = 3;
constexpr std::uint32_t kStatusFailure = 4;
// ATTRS flags (section 5): which fields follow, in this order.
constexpr std::uint32_t kAttrSize = 0x1;
constexpr std::uint32_t kAttrUidGid = 0x2;
constexpr std::uint32_t kAttrPermissions = 0x4;
constexpr std::uint32_t kAttrAcModTime = 0x8;
constexpr std::uint32_t kOpenForReading = 1;       // SSH_FXF_READ (section 6.3)
constexpr std::uint32_t kReadChunk = 64 * 1024;    // bytes per READ: every server accepts this much
constexpr std::uint32_t kMaxPacket = 1024 * 1024;  // bytes; anything larger is not an SFTP server talking

// One packet without its length field.
struct Packet {
  std::uint8_t type = 0;
  std::string body;  // the bytes after the type byte
};

// --- Requests: whole packets (length field included), ready to write to the channel. ---------
std::string init_request(std::uint32_t version = 3);
std::string open_request(std::uint32_t id, std::string_view path);  // read-only, no attributes
// READ of up to `length` bytes at byte `offset` of the open file `handle`.
std::string read_request(std::uint32_t id, std::string_view handle, std::uint64_t offset, std::uint32_t length);
std::string close_request(std::uint32_t id, std::string_view handle);
std::string fstat_request(std::uint32_t id, std::string_view handle);  // the open file's attributes

// --- Replies ------------------------------------------------------------------------------
// Takes the first complete packet off the front of `buffer` (bytes received, in order).
// Returns nullopt, leaving `buffer` alone, while the packet is incomplete (fewer than 4 bytes, or
// fewer than the length says). Error "the SFTP server sent a malformed packet" when the length is
// 0 (no type byte) or over kMaxPacket bytes: the stream cannot be trusted after that.
bluegreen::Result<std::optional<Packet>> take_packet(std::string& buffer);

// The request id a reply answers: nullopt when the body is shorter than 4 bytes.
std::optional<std::uint32_t> reply_id(const Packet& packet);

// A reply's fields. Which are set depends on `type`; other types carry only the id.
struct Reply {
  std::uint8_t type = 0;
  std::uint32_t id = 0;
  std::uint32_t status = 0;            // kStatus: the status code
  std::string message;                 // kStatus: the server's text (optional in the packet: may be empty)
  std::string payload;                 // kHandle: the handle; kData: the bytes read
  std::optional<std::uint32_t> mtime;  // kAttrs: modification time (s since the epoch), when sent
};

// Parses a reply packet. Error (code kFailed) when a field runs past the end of the body or a
// string's length exceeds what is left; trailing bytes (the STATUS language tag, ATTRS's
// extended pairs) are ignored.
bluegreen::Result<Reply> parse_reply(const Packet& packet);

// Error unless `packet` is the server's VERSION (the answer to INIT): "the SFTP server answered
// INIT with packet type N". The version number is not checked (any server answering VERSION
// speaks at least the packets used here).
bluegreen::Status check_version(const Packet& packet);

// A STATUS for the user: the server's message, or the code's name when the message is empty,
// then " (SFTP status N)".
std::string status_text(std::uint32_t code, std::string_view message);

// Reading whole files as one pipelined exchange, without I/O: the caller sends the bytes this
// returns and feeds back every reply packet until finished(). Every file is opened at once; an
// FSTAT (for its modification time) goes with its first READ; each READ is sent as soon as the
// previous one's data arrives, and each file is closed after its EOF (or its failure): about
// three round trips on a warm channel, plus one per kReadChunk of the largest file.
class FileReadExchange {
 public:
  // `cap_bytes`: a file larger than this is reported as a problem, never truncated. Request ids
  // count up from `first_id` (ids must stay unique on a channel: see next_id()).
  FileReadExchange(std::vector<std::string> paths, std::size_t cap_bytes, std::uint32_t first_id);

  // The OPEN requests for every path. Call once, first.
  std::string start();

  // Takes one reply; returns the requests to send next (possibly none). Errors (the server is not
  // usable, the exchange is over): "the SFTP server answered a request that was not made" (an id
  // not pending) and "the SFTP server sent packet type N in an unexpected place" (a reply that
  // does not fit its request, or a malformed one).
  bluegreen::Result<std::string> on_reply(const Packet& packet);

  [[nodiscard]] bool finished() const { return pending_.empty(); }
  // The first id not used yet, for the next exchange on the same channel.
  [[nodiscard]] std::uint32_t next_id() const { return next_id_; }
  // One entry per path, in order: content, missing, or the problem. Complete once finished().
  [[nodiscard]] std::vector<FileRead> take_files() { return std::move(files_); }

 private:
  struct Request {
    std::size_t file;
    std::uint8_t type;
  };
  std::uint32_t track(std::uint8_t type, std::size_t file);
  void read_more(std::size_t file, std::string& out);
  void close(std::size_t file, std::string& out);
  void fail_file(std::size_t file, std::string problem);
  bool on_open_reply(const Reply& reply, std::size_t file, std::string& out);
  bool on_read_reply(const Reply& reply, std::size_t file, std::string& out);
  bool on_fstat_reply(const Reply& reply, std::size_t file);

  std::vector<std::string> paths_;
  std::size_t cap_bytes_;
  std::uint32_t next_id_;
  std::vector<FileRead> files_;
  std::vector<std::string> handles_;
  std::map<std::uint32_t, Request> pending_;  // by request id
};

}  // namespace bluegreen::remote::sftp
