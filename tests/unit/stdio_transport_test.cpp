#include "transport/stdio_transport.h"

#include <catch2/catch.hpp>

#include <csignal>

#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace bluegreen;  // NOLINT(google-build-using-namespace): the project namespace, in a test or main

namespace {

class RecordingHandler final : public mcp::MessageHandler {
 public:
  void on_message(std::string_view text) override { messages.emplace_back(text); }
  void on_oversized_message(std::size_t limit) override { oversized.push_back(limit); }
  std::vector<std::string> messages;
  std::vector<std::size_t> oversized;
};

// Feeds `input` to a StdioTransport through a real pipe, in chunks of `chunk` bytes, and
// returns what the handler saw.
RecordingHandler read_through_pipe(const std::string& input, std::size_t limit, std::size_t chunk = 4096) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  transport::StdioTransport transport(fds[0], -1, limit);
  RecordingHandler handler;
  std::thread writer([&] {
    for (std::size_t offset = 0; offset < input.size(); offset += chunk) {
      const auto n = std::min(chunk, input.size() - offset);
      REQUIRE(::write(fds[1], input.data() + offset, n) == static_cast<ssize_t>(n));
    }
    ::close(fds[1]);
  });
  transport.run(handler);
  writer.join();
  ::close(fds[0]);
  return handler;
}

}  // namespace

TEST_CASE("stdio splits lines, across and within reads", "[transport]") {
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{4096}}) {
    INFO("chunk " << chunk);
    const auto h = read_through_pipe("{\"a\":1}\n{\"b\":2}\r\n\n   \n{\"c\":3}", 1024, chunk);
    CHECK(h.messages == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"});
    CHECK(h.oversized.empty());
  }
}

TEST_CASE("stdio discards an oversized line without buffering it and keeps reading", "[transport]") {
  const std::string huge(10000, 'x');
  for (const std::size_t chunk : {std::size_t{7}, std::size_t{4096}, std::size_t{65536}}) {
    INFO("chunk " << chunk);
    const auto h = read_through_pipe("{\"first\":1}\n" + huge + "\n{\"after\":1}\n" + huge, 100, chunk);
    CHECK(h.messages == std::vector<std::string>{"{\"first\":1}", "{\"after\":1}"});
    CHECK(h.oversized == std::vector<std::size_t>{100, 100});
  }
}

TEST_CASE("stdio writes one line per message, whole, from many threads", "[transport]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  transport::StdioTransport transport(-1, fds[1]);
  std::string received;
  std::thread reader([&] {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) received.append(buffer, static_cast<std::size_t>(n));
  });
  const std::string payload(5000, 'p');  // larger than PIPE_BUF: writes could interleave without the lock
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) transport.send(payload);
    });
  }
  for (auto& w : writers) w.join();
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);

  std::size_t lines = 0;
  std::size_t start = 0;
  for (std::size_t nl = received.find('\n'); nl != std::string::npos; nl = received.find('\n', start)) {
    CHECK(received.compare(start, nl - start, payload) == 0);
    ++lines;
    start = nl + 1;
  }
  CHECK(lines == 200);
  CHECK(start == received.size());
}

TEST_CASE("stdio survives a closed output", "[transport]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[0]);
  transport::StdioTransport transport(-1, fds[1]);
  // main() ignores SIGPIPE so that a vanished client turns into EPIPE; do the same here.
  const auto previous = std::signal(SIGPIPE, SIG_IGN);
  CHECK_NOTHROW(transport.send("{}"));
  CHECK_NOTHROW(transport.send("{}"));
  std::signal(SIGPIPE, previous);
  ::close(fds[1]);
}
