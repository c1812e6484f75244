#include "remote/sftp_codec.h"

#include <array>
#include <utility>

namespace bluegreen::remote::sftp {
namespace {

using bluegreen::Error;

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
// Requires 4 bytes at `at`: callers check.
std::uint32_t get_u32(std::string_view data, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(data[at + i]);
  return value;
}

std::string packet(std::uint8_t type, std::string_view fields) {
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(fields.size() + 1));
  out.push_back(static_cast<char>(type));
  out.append(fields);
  return out;
}

// Reads a body's fields in order; once one runs past the end, ok() stays false and every later
// read returns an empty value, so a parser checks ok() once at the end.
class Fields {
 public:
  explicit Fields(std::string_view body) : body_(body) {}
  std::uint32_t u32() {
    if (!ok_ || body_.size() - at_ < 4) {
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
  std::size_t at_ = 0;  // never past body_.size()
  bool ok_ = true;
};

Error unexpected(std::uint8_t type) {
  return Error{"the SFTP server sent packet type " + std::to_string(type) + " in an unexpected place"};
}

}  // namespace

std::string init_request(std::uint32_t version) {
  std::string fields;
  put_u32(fields, version);  // INIT has no request id
  return packet(kInit, fields);
}

std::string open_request(std::uint32_t id, std::string_view path) {
  std::string fields;
  put_u32(fields, id);
  put_string(fields, path);
  put_u32(fields, kOpenForReading);
  put_u32(fields, 0);  // attribute flags: none
  return packet(kOpen, fields);
}

std::string read_request(std::uint32_t id, std::string_view handle, std::uint64_t offset, std::uint32_t length) {
  std::string fields;
  put_u32(fields, id);
  put_string(fields, handle);
  put_u64(fields, offset);
  put_u32(fields, length);
  return packet(kRead, fields);
}

std::string fstat_request(std::uint32_t id, std::string_view handle) {
  std::string fields;
  put_u32(fields, id);
  put_string(fields, handle);
  return packet(kFstat, fields);
}

std::string close_request(std::uint32_t id, std::string_view handle) {
  std::string fields;
  put_u32(fields, id);
  put_string(fields, handle);
  return packet(kClose, fields);
}

bluegreen::Result<std::optional<Packet>> take_packet(std::string& buffer) {
  if (buffer.size() < 4) return std::optional<Packet>();
  const auto length = get_u32(buffer, 0);
  if (length == 0 || length > kMaxPacket) return Error{"the SFTP server sent a malformed packet"};
  if (buffer.size() - 4 < length) return std::optional<Packet>();
  Packet packet;
  packet.type = static_cast<std::uint8_t>(buffer[4]);
  packet.body.assign(buffer, 5, length - 1);
  buffer.erase(0, std::size_t{4} + length);
  return std::optional<Packet>(std::move(packet));
}

std::optional<std::uint32_t> reply_id(const Packet& packet) {
  Fields fields(packet.body);
  const auto id = fields.u32();
  if (!fields.ok()) return std::nullopt;
  return id;
}

bluegreen::Result<Reply> parse_reply(const Packet& packet) {
  Fields fields(packet.body);
  Reply reply;
  reply.type = packet.type;
  reply.id = fields.u32();
  if (packet.type == kStatus) {
    reply.status = fields.u32();
    if (!fields.at_end()) reply.message = std::string(fields.string());  // optional in version 3
  } else if (packet.type == kHandle || packet.type == kData) {
    reply.payload = std::string(fields.string());
  } else if (packet.type == kAttrs) {
    const auto flags = fields.u32();
    if ((flags & kAttrSize) != 0) (void)fields.u32(), (void)fields.u32();  // uint64 size
    if ((flags & kAttrUidGid) != 0) (void)fields.u32(), (void)fields.u32();
    if ((flags & kAttrPermissions) != 0) (void)fields.u32();
    if ((flags & kAttrAcModTime) != 0) {
      (void)fields.u32();  // atime
      reply.mtime = fields.u32();
    }
  }
  if (!fields.ok()) {
    return Error{"the SFTP server sent a malformed reply of packet type " + std::to_string(packet.type)};
  }
  return reply;
}

bluegreen::Status check_version(const Packet& packet) {
  if (packet.type != kVersion) {
    return Error{"the SFTP server answered INIT with packet type " + std::to_string(packet.type)};
  }
  return bluegreen::ok_status();
}

std::string status_text(std::uint32_t code, std::string_view message) {
  static constexpr std::array<const char*, 9> kNames = {
      "ok",          "end of file",   "no such file",    "permission denied",    "failure",
      "bad message", "no connection", "connection lost", "operation unsupported"};
  std::string text = message.empty() ? (code < kNames.size() ? kNames[code] : "error") : std::string(message);
  return text + " (SFTP status " + std::to_string(code) + ")";
}

FileReadExchange::FileReadExchange(std::vector<std::string> paths, std::size_t cap_bytes, std::uint32_t first_id)
    : paths_(std::move(paths)),
      cap_bytes_(cap_bytes),
      next_id_(first_id),
      files_(paths_.size()),
      handles_(paths_.size()) {}

std::string FileReadExchange::start() {
  std::string out;
  for (std::size_t file = 0; file < paths_.size(); ++file) out += open_request(track(kOpen, file), paths_[file]);
  return out;
}

bluegreen::Result<std::string> FileReadExchange::on_reply(const Packet& packet) {
  const auto id = reply_id(packet);
  const auto found = id ? pending_.find(*id) : pending_.end();
  if (found == pending_.end()) return Error{"the SFTP server answered a request that was not made"};
  const Request answered = found->second;
  pending_.erase(found);
  auto reply = parse_reply(packet);
  if (!reply) return unexpected(packet.type);  // (the message has always said so for malformed replies)

  std::string out;
  bool understood = false;
  switch (answered.type) {
    case kOpen: understood = on_open_reply(*reply, answered.file, out); break;
    case kRead: understood = on_read_reply(*reply, answered.file, out); break;
    case kFstat: understood = on_fstat_reply(*reply, answered.file); break;
    default: understood = reply->type == kStatus;  // CLOSE: the file is read already
  }
  if (!understood) return unexpected(packet.type);
  return out;
}

std::uint32_t FileReadExchange::track(std::uint8_t type, std::size_t file) {
  const std::uint32_t id = next_id_++;
  pending_.emplace(id, Request{file, type});
  return id;
}

void FileReadExchange::read_more(std::size_t file, std::string& out) {
  out += read_request(track(kRead, file), handles_[file], files_[file].content.size(), kReadChunk);
}

void FileReadExchange::close(std::size_t file, std::string& out) {
  out += close_request(track(kClose, file), handles_[file]);
}

void FileReadExchange::fail_file(std::size_t file, std::string problem) {
  files_[file].content.clear();
  files_[file].problem = std::move(problem);
}

bool FileReadExchange::on_open_reply(const Reply& reply, std::size_t file, std::string& out) {
  if (reply.type == kHandle) {
    handles_[file] = reply.payload;
    read_more(file, out);  // reading starts while the other opens are answered
    out += fstat_request(track(kFstat, file), handles_[file]);
    return true;
  }
  if (reply.type != kStatus) return false;
  if (reply.status == kStatusNoSuchFile) {
    files_[file].missing = true;
  } else {
    fail_file(file, "cannot open it: " + status_text(reply.status, reply.message));
  }
  return true;
}

// A server that cannot say (a failure STATUS, no times in ATTRS) leaves the time unknown; the
// content still counts.
bool FileReadExchange::on_fstat_reply(const Reply& reply, std::size_t file) {
  if (reply.type == kAttrs) {
    if (reply.mtime) files_[file].modified_epoch_s = *reply.mtime;
    return true;
  }
  return reply.type == kStatus;
}

bool FileReadExchange::on_read_reply(const Reply& reply, std::size_t file, std::string& out) {
  if (reply.type == kData) {
    files_[file].content.append(reply.payload);
    if (files_[file].content.size() <= cap_bytes_) {
      read_more(file, out);
    } else {
      fail_file(file, "larger than " + std::to_string(cap_bytes_) + " bytes");
      close(file, out);
    }
    return true;
  }
  if (reply.type != kStatus) return false;
  if (reply.status != kStatusEof) fail_file(file, status_text(reply.status, reply.message));
  close(file, out);
  return true;
}

}  // namespace bluegreen::remote::sftp
