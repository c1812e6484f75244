// The SFTP v3 byte codec (remote/sftp_codec.h) and the whole-file read exchange built on it, from
// bytes alone: what the server sends is untrusted, so every malformed input must be an Error.
#include "remote/sftp_codec.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace sftp = remote::sftp;

namespace {

std::string u32(std::uint32_t value) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xffU));
  return out;
}
std::string u64(std::uint64_t value) {
  return u32(static_cast<std::uint32_t>(value >> 32)) + u32(static_cast<std::uint32_t>(value));
}
std::string str(const std::string& value) { return u32(static_cast<std::uint32_t>(value.size())) + value; }
std::string frame(std::uint8_t type, const std::string& body) {
  return u32(static_cast<std::uint32_t>(body.size() + 1)) + std::string(1, static_cast<char>(type)) + body;
}

sftp::Packet packet(std::uint8_t type, const std::string& body) { return sftp::Packet{type, body}; }
sftp::Packet status(std::uint32_t id, std::uint32_t code, const std::string& message = "") {
  return packet(sftp::kStatus, u32(id) + u32(code) + (message.empty() ? "" : str(message) + str("en")));
}
sftp::Packet handle(std::uint32_t id, const std::string& value) { return packet(sftp::kHandle, u32(id) + str(value)); }
sftp::Packet data(std::uint32_t id, const std::string& value) { return packet(sftp::kData, u32(id) + str(value)); }
// ATTRS as OpenSSH's sftp-server sends them: size, uid/gid, permissions, atime/mtime.
sftp::Packet attrs(std::uint32_t id, std::uint32_t mtime) {
  return packet(sftp::kAttrs, u32(id) + u32(0xf) + u64(5) + u32(0) + u32(0) + u32(0100644) + u32(1) + u32(mtime));
}

// Splits concatenated request packets into (type, body), checking each length field.
std::vector<sftp::Packet> requests_in(std::string bytes) {
  std::vector<sftp::Packet> out;
  while (!bytes.empty()) {
    auto taken = sftp::take_packet(bytes);
    REQUIRE(taken.ok());
    REQUIRE(taken->has_value());
    out.push_back(std::move(**taken));
  }
  return out;
}

}  // namespace

TEST_CASE("sftp requests have the draft-ietf-secsh-filexfer-02 layout", "[sftp]") {
  CHECK(sftp::init_request() == frame(sftp::kInit, u32(3)));
  CHECK(sftp::open_request(7, "/etc/hosts") == frame(sftp::kOpen, u32(7) + str("/etc/hosts") + u32(1) + u32(0)));
  CHECK(sftp::read_request(8, "h1", 0x100000000ULL + 5, 65536) ==
        frame(sftp::kRead, u32(8) + str("h1") + u64(0x100000000ULL + 5) + u32(65536)));
  CHECK(sftp::close_request(9, std::string("h\0x", 3)) == frame(sftp::kClose, u32(9) + str(std::string("h\0x", 3))));
  CHECK(sftp::open_request(1, "").size() == 4 + 1 + 4 + 4 + 4 + 4);
}

TEST_CASE("take_packet frames replies from a byte stream", "[sftp]") {
  SECTION("nothing, or fewer than 4 bytes: wait for more") {
    for (std::string buffer : {std::string(), std::string("\0\0\0", 3)}) {
      auto taken = sftp::take_packet(buffer);
      REQUIRE(taken.ok());
      CHECK_FALSE(taken->has_value());
    }
  }
  SECTION("a truncated packet is left whole until its last byte arrives") {
    const std::string whole = frame(sftp::kData, u32(1) + str("abc"));
    for (std::size_t cut = 4; cut < whole.size(); ++cut) {
      std::string buffer = whole.substr(0, cut);
      auto taken = sftp::take_packet(buffer);
      REQUIRE(taken.ok());
      CHECK_FALSE(taken->has_value());
      CHECK(buffer == whole.substr(0, cut));
    }
  }
  SECTION("two packets back to back come out one at a time; the rest stays") {
    std::string buffer = frame(sftp::kVersion, u32(3)) + frame(sftp::kStatus, u32(1) + u32(0)) + std::string("\0\0", 2);
    auto first = sftp::take_packet(buffer);
    REQUIRE(first.ok());
    REQUIRE(first->has_value());
    CHECK((*first)->type == sftp::kVersion);
    CHECK((*first)->body == u32(3));
    auto second = sftp::take_packet(buffer);
    REQUIRE(second.ok());
    REQUIRE(second->has_value());
    CHECK((*second)->type == sftp::kStatus);
    CHECK(buffer == std::string("\0\0", 2));
  }
  SECTION("a packet of just a type byte has an empty body") {
    std::string buffer = frame(42, "");
    auto taken = sftp::take_packet(buffer);
    REQUIRE(taken.ok());
    REQUIRE(taken->has_value());
    CHECK((*taken)->type == 42);
    CHECK((*taken)->body.empty());
    CHECK(buffer.empty());
  }
  SECTION("length 0 and oversize lengths are errors, however many bytes follow") {
    for (const std::uint32_t length : {0U, sftp::kMaxPacket + 1, 0x7fffffffU, 0xffffffffU}) {
      std::string buffer = u32(length) + "x";
      auto taken = sftp::take_packet(buffer);
      REQUIRE_FALSE(taken.ok());
      CHECK(taken.error().message == "the SFTP server sent a malformed packet");
    }
  }
  SECTION("the largest allowed packet is accepted") {
    std::string buffer =
        u32(sftp::kMaxPacket) + std::string(1, static_cast<char>(sftp::kData)) + std::string(sftp::kMaxPacket - 1, 'z');
    auto taken = sftp::take_packet(buffer);
    REQUIRE(taken.ok());
    REQUIRE(taken->has_value());
    CHECK((*taken)->body.size() == sftp::kMaxPacket - 1);
  }
}

TEST_CASE("parse_reply reads well-formed replies", "[sftp]") {
  auto s = sftp::parse_reply(status(5, sftp::kStatusPermissionDenied, "Permission denied"));
  REQUIRE(s.ok());
  CHECK(s->id == 5);
  CHECK(s->status == sftp::kStatusPermissionDenied);
  CHECK(s->message == "Permission denied");

  auto bare = sftp::parse_reply(packet(sftp::kStatus, u32(6) + u32(sftp::kStatusEof)));  // message is optional
  REQUIRE(bare.ok());
  CHECK(bare->status == sftp::kStatusEof);
  CHECK(bare->message.empty());

  auto h = sftp::parse_reply(handle(7, std::string("\0\1", 2)));
  REQUIRE(h.ok());
  CHECK(h->payload == std::string("\0\1", 2));

  auto d = sftp::parse_reply(data(8, ""));
  REQUIRE(d.ok());
  CHECK(d->payload.empty());

  auto other = sftp::parse_reply(packet(200, u32(9) + "anything"));
  REQUIRE(other.ok());
  CHECK(other->type == 200);
  CHECK(other->id == 9);
  CHECK(sftp::reply_id(packet(sftp::kData, u32(0xdeadbeef))) == std::optional<std::uint32_t>(0xdeadbeef));
}

TEST_CASE("parse_reply rejects every truncation and every oversize inner length", "[sftp]") {
  const std::vector<sftp::Packet> whole = {status(1, 4, "Failure"), handle(2, "handle"), data(3, "content")};
  for (const auto& reply : whole) {
    // Every prefix shorter than the fields that must be there (the status message's language tag
    // is not read, so a status is complete once its message is).
    const std::size_t needed = reply.type == sftp::kStatus ? 4 + 4 + 4 + 7 : reply.body.size();
    for (std::size_t cut = 0; cut < needed; ++cut) {
      if (reply.type == sftp::kStatus && cut == 8) continue;  // id + code alone is a valid status
      auto parsed = sftp::parse_reply(packet(reply.type, reply.body.substr(0, cut)));
      CHECK_FALSE(parsed.ok());
    }
  }
  for (const std::uint32_t length : {8U, 0x7fffffffU, 0xffffffffU}) {
    CHECK_FALSE(sftp::parse_reply(packet(sftp::kData, u32(1) + u32(length) + "short")).ok());
    CHECK_FALSE(sftp::parse_reply(packet(sftp::kHandle, u32(1) + u32(length) + "short")).ok());
    CHECK_FALSE(sftp::parse_reply(packet(sftp::kStatus, u32(1) + u32(4) + u32(length) + "short")).ok());
  }
  CHECK_FALSE(sftp::reply_id(packet(sftp::kData, "abc")).has_value());
}

TEST_CASE("parse_reply reads ATTRS: the modification time when sent, and nothing past the end", "[sftp]") {
  auto full = sftp::parse_reply(attrs(7, 1234567890U));
  REQUIRE(full.ok());
  CHECK(full->id == 7);
  CHECK(full->mtime == 1234567890U);
  // Only the times: they come right after the flags.
  auto times_only = sftp::parse_reply(packet(sftp::kAttrs, u32(8) + u32(sftp::kAttrAcModTime) + u32(1) + u32(99)));
  REQUIRE(times_only.ok());
  CHECK(times_only->mtime == 99U);
  // No times: unknown.
  auto no_times = sftp::parse_reply(packet(sftp::kAttrs, u32(9) + u32(sftp::kAttrSize) + u64(10)));
  REQUIRE(no_times.ok());
  CHECK_FALSE(no_times->mtime.has_value());
  // Cut anywhere before the mtime's last byte: malformed.
  const auto body = attrs(7, 1).body;
  for (std::size_t cut = 0; cut < body.size(); ++cut) {
    CHECK_FALSE(sftp::parse_reply(packet(sftp::kAttrs, body.substr(0, cut))).ok());
  }
}

TEST_CASE("check_version and status_text", "[sftp]") {
  CHECK(sftp::check_version(packet(sftp::kVersion, u32(3))).ok());
  auto wrong = sftp::check_version(packet(sftp::kStatus, u32(0)));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message == "the SFTP server answered INIT with packet type 101");

  CHECK(sftp::status_text(2, "") == "no such file (SFTP status 2)");
  CHECK(sftp::status_text(3, "") == "permission denied (SFTP status 3)");
  CHECK(sftp::status_text(8, "") == "operation unsupported (SFTP status 8)");
  CHECK(sftp::status_text(9, "") == "error (SFTP status 9)");
  CHECK(sftp::status_text(0xffffffffU, "") == "error (SFTP status 4294967295)");
  CHECK(sftp::status_text(4, "disk on fire") == "disk on fire (SFTP status 4)");
}

TEST_CASE("FileReadExchange reads whole files with pipelined requests", "[sftp]") {
  sftp::FileReadExchange reads({"/a", "/b"}, 10, 100);
  auto opens = requests_in(reads.start());
  REQUIRE(opens.size() == 2);
  CHECK(opens[0].type == sftp::kOpen);
  CHECK(opens[0].body == u32(100) + str("/a") + u32(1) + u32(0));
  CHECK(opens[1].body == u32(101) + str("/b") + u32(1) + u32(0));

  // /a opens; its first READ starts at offset 0, and its attributes are asked for at once.
  auto next = reads.on_reply(handle(100, "ha"));
  REQUIRE(next.ok());
  auto sent = requests_in(*next);
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].type == sftp::kRead);
  CHECK(sent[0].body == u32(102) + str("ha") + u64(0) + u32(sftp::kReadChunk));
  CHECK(sent[1].type == sftp::kFstat);
  CHECK(sent[1].body == u32(103) + str("ha"));

  // /b is missing: no request follows.
  next = reads.on_reply(status(101, sftp::kStatusNoSuchFile, "No such file"));
  REQUIRE(next.ok());
  CHECK(next->empty());

  // Data, then the next READ at the new offset, then EOF and CLOSE; the attributes come between.
  next = reads.on_reply(data(102, "hello"));
  REQUIRE(next.ok());
  sent = requests_in(*next);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].body == u32(104) + str("ha") + u64(5) + u32(sftp::kReadChunk));
  next = reads.on_reply(attrs(103, 1700000000U));
  REQUIRE(next.ok());
  CHECK(next->empty());
  next = reads.on_reply(status(104, sftp::kStatusEof));
  REQUIRE(next.ok());
  sent = requests_in(*next);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].type == sftp::kClose);
  CHECK(sent[0].body == u32(105) + str("ha"));
  CHECK_FALSE(reads.finished());
  next = reads.on_reply(status(105, sftp::kStatusOk));
  REQUIRE(next.ok());
  CHECK(reads.finished());
  CHECK(reads.next_id() == 106);

  const auto files = reads.take_files();
  REQUIRE(files.size() == 2);
  CHECK(files[0].content == "hello");
  CHECK(files[0].modified_epoch_s == 1700000000);
  CHECK(files[0].problem.empty());
  CHECK_FALSE(files[0].missing);
  CHECK_FALSE(files[1].modified_epoch_s.has_value());
  CHECK(files[1].missing);
}

TEST_CASE("FileReadExchange reports every error status on the file it concerns", "[sftp]") {
  for (std::uint32_t code = 0; code <= 9; ++code) {
    if (code == sftp::kStatusNoSuchFile) continue;
    DYNAMIC_SECTION("OPEN answered with status " << code) {
      sftp::FileReadExchange reads({"/x"}, 10, 1);
      (void)reads.start();
      auto next = reads.on_reply(status(1, code));
      REQUIRE(next.ok());
      CHECK(next->empty());
      CHECK(reads.finished());
      const auto files = reads.take_files();
      CHECK_FALSE(files[0].missing);
      CHECK(files[0].problem == "cannot open it: " + sftp::status_text(code, ""));
    }
    if (code == sftp::kStatusEof) continue;
    DYNAMIC_SECTION("READ answered with status " << code) {
      sftp::FileReadExchange reads({"/x"}, 10, 1);
      (void)reads.start();
      REQUIRE(reads.on_reply(handle(1, "h")).ok());  // READ 2, FSTAT 3
      REQUIRE(reads.on_reply(data(2, "partial")).ok());
      REQUIRE(reads.on_reply(status(3, sftp::kStatusFailure)).ok());  // no attributes: the time stays unknown
      auto next = reads.on_reply(status(4, code, "bad"));
      REQUIRE(next.ok());
      CHECK(requests_in(*next).at(0).type == sftp::kClose);           // the handle is closed all the same
      REQUIRE(reads.on_reply(status(5, sftp::kStatusFailure)).ok());  // a failed CLOSE changes nothing
      CHECK(reads.finished());
      const auto files = reads.take_files();
      CHECK(files[0].content.empty());  // never a partial file
      CHECK(files[0].problem == "bad (SFTP status " + std::to_string(code) + ")");
    }
  }
}

TEST_CASE("FileReadExchange: a file over the cap is a problem, never truncated", "[sftp]") {
  sftp::FileReadExchange reads({"/big"}, 4, 1);
  (void)reads.start();
  REQUIRE(reads.on_reply(handle(1, "h")).ok());
  auto next = reads.on_reply(data(2, "12345"));
  REQUIRE(next.ok());
  CHECK(requests_in(*next).at(0).type == sftp::kClose);
  REQUIRE(reads.on_reply(attrs(3, 5)).ok());
  REQUIRE(reads.on_reply(status(4, sftp::kStatusOk)).ok());
  CHECK(reads.finished());
  const auto files = reads.take_files();
  CHECK(files[0].content.empty());
  CHECK(files[0].problem == "larger than 4 bytes");
}

TEST_CASE("FileReadExchange: wrong ids and misplaced or malformed replies end the exchange", "[sftp]") {
  sftp::FileReadExchange reads({"/x"}, 10, 1);
  (void)reads.start();
  const std::string not_made = "the SFTP server answered a request that was not made";

  SECTION("an id never sent") { CHECK(reads.on_reply(status(99, 0)).error().message == not_made); }
  SECTION("an id answered twice") {
    REQUIRE(reads.on_reply(status(1, sftp::kStatusNoSuchFile)).ok());
    CHECK(reads.on_reply(status(1, sftp::kStatusNoSuchFile)).error().message == not_made);
  }
  SECTION("no id at all") { CHECK(reads.on_reply(packet(sftp::kStatus, "ab")).error().message == not_made); }
  SECTION("DATA in answer to OPEN") {
    CHECK(reads.on_reply(data(1, "x")).error().message ==
          "the SFTP server sent packet type 103 in an unexpected place");
  }
  SECTION("HANDLE in answer to READ") {
    REQUIRE(reads.on_reply(handle(1, "h")).ok());
    CHECK(reads.on_reply(handle(2, "h")).error().message ==
          "the SFTP server sent packet type 102 in an unexpected place");
  }
  SECTION("DATA in answer to CLOSE") {
    REQUIRE(reads.on_reply(handle(1, "h")).ok());
    REQUIRE(reads.on_reply(status(2, sftp::kStatusEof)).ok());
    CHECK_FALSE(reads.on_reply(data(3, "x")).ok());
  }
  SECTION("an unknown packet type") { CHECK_FALSE(reads.on_reply(packet(250, u32(1))).ok()); }
  SECTION("a HANDLE whose string runs past the packet") {
    CHECK_FALSE(reads.on_reply(packet(sftp::kHandle, u32(1) + u32(1000) + "h")).ok());
  }
  SECTION("a STATUS cut inside its code") { CHECK_FALSE(reads.on_reply(packet(sftp::kStatus, u32(1) + "ab")).ok()); }
}

TEST_CASE("FileReadExchange with no paths is finished at once", "[sftp]") {
  sftp::FileReadExchange reads({}, 10, 1);
  CHECK(reads.start().empty());
  CHECK(reads.finished());
  CHECK(reads.take_files().empty());
}
