#pragma once
// MCP's Streamable HTTP transport (`bluegreen-mcp serve`), as specified in MCP 2025-03-26,
// 2025-06-18 and 2025-11-25, basic/transports "Streamable HTTP": one endpoint, /mcp, for POST,
// GET and DELETE; one mcp::Server per session, all sharing the tools, the lock, the approvals and
// the state behind them.
//
// What a client gets:
// - POST /mcp with one JSON-RPC message (Content-Type application/json; Accept, when sent, must
//   admit application/json and text/event-stream).
//   - A notification or a response (to the server's elicitation): 202 Accepted, no body.
//   - A request: when the reply is ready as soon as the message is handled (lists, reads, pings),
//     200 with Content-Type application/json and the reply; otherwise (tool calls) 200 with
//     Content-Type text/event-stream: the progress, log lines and elicitation requests of that call,
//     then its reply, each as an SSE event "message", after which the stream ends. A comment line is
//     sent every 15 s of silence so a vanished client is noticed. Closing the stream does not cancel
//     the call (legacy era: cancel with notifications/cancelled, which also ends the stream).
//   - initialize starts a session: its reply carries `Mcp-Session-Id` (128 random bits, hex), which
//     every later request must carry (missing: 400; unknown, expired or deleted: 404, after which a
//     client initializes again). An initialize that fails leaves no session.
//   - `MCP-Protocol-Version`, when sent, must be a revision this server speaks (else 400).
// - GET /mcp (Accept text/event-stream) with a session: the session's standalone SSE stream, for
//   messages tied to no request (notifications/resources/updated, log lines outside calls). One per
//   session (a second: 409). Without such a stream those messages are dropped.
// - DELETE /mcp with a session: ends it (its running calls are cancelled); 200.
// - Every request is checked before anything else, in this order (transport/http_access.h): Host
//   (421), Origin (403), a chunked body (411: cpp-httplib would read it whole), bearer token when
//   tokens are configured (401, WWW-Authenticate: Bearer). A body over `max_message_bytes` is
//   refused with 413, other methods with 405, other paths 404. A session belongs to the token that
//   started it: with another token it is not found (404).
// - Protocol 2026-07-28: a POST whose body's _meta claims it needs no session (any Mcp-Session-Id
//   is ignored): it is served by a server of its own, whose calls are cancelled when the client
//   closes the response stream. MCP-Protocol-Version and Mcp-Method must repeat the body, and
//   Mcp-Name too when sent (plain or =?base64?...?=), else 400 with -32020; an envelope error is
//   400 (-32602, -32022), an unknown method 404 (-32601). No Mcp-Session-Id is handed out.
//   Error bodies are JSON-RPC error objects with id null.
// - Limits: at most `max_sessions` sessions, and with tokens `max_sessions_per_token` per token:
//   an initialize past either ends the least recently used session (of that token, at its quota)
//   that has nothing running, no stream open and was unused for `evict_after_idle`, or gets 503
//   when there is none; a
//   session unused for `session_idle_timeout` with nothing running is ended; `worker_threads`
//   requests are served at once (an open SSE stream holds one), more wait for a free one.
//
// Not here: resumable streams (Last-Event-ID), TLS (put a reverse
// proxy in front; README says how), and a total deadline per request (cpp-httplib 0.11.4 has only
// a per-read timeout, so a client sending a byte every few seconds holds a worker).
//
// Thread-safety: start() and stop() from one thread; the rest is internal. The session factory is
// called from the listener's threads, one call at a time.

#include "common/result.h"
#include "mcp/message_channel.h"
#include "mcp/server.h"
#include "transport/http_access.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bluegreen::transport {

class StreamableHttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // the address to listen on; non-loopback needs `tokens`
    int port = 8931;                 // 0: the kernel picks a free one (see port())
    std::optional<http::TokenList> tokens;
    std::vector<std::string> allowed_hosts;    // more Host names (http::AccessPolicy)
    std::vector<std::string> allowed_origins;  // more Origins (http::AccessPolicy)
    std::size_t max_sessions = 128;
    std::size_t max_sessions_per_token = 64;  // with tokens: one token's holder cannot fill the table
    // A session is ended to make room for a new one only when unused for this long (a client between
    // two calls is not "unused").
    std::chrono::milliseconds evict_after_idle{std::chrono::seconds(60)};
    std::chrono::milliseconds session_idle_timeout{std::chrono::hours(1)};
    std::size_t max_message_bytes = std::size_t{4} * 1024 * 1024;
    // Requests served at once. An open SSE stream holds one (a session's GET stream for its whole
    // life), so 0 means 2 * max_sessions + 64: every session's GET stream and a running call each,
    // with room to spare for the answers those calls wait for.
    std::size_t worker_threads = 0;
    std::chrono::seconds io_timeout{10};              // per read or write on a connection
    std::chrono::milliseconds shutdown_grace{10000};  // for a session's calls to end when it ends
  };

  // Makes the mcp::Server of a new session, writing to `sink` (which outlives it). `label` is the
  // bearer token's label, or "" without tokens (for logs).
  using SessionFactory = std::function<std::unique_ptr<mcp::Server>(mcp::MessageSink& sink, const std::string& label)>;

  StreamableHttpServer(Options options, SessionFactory factory);
  ~StreamableHttpServer();  // stop()
  StreamableHttpServer(const StreamableHttpServer&) = delete;
  StreamableHttpServer& operator=(const StreamableHttpServer&) = delete;

  // Binds and starts serving on threads of its own. Errors: a non-loopback address without tokens;
  // the address cannot be bound (in use, not local, no permission; the OS's reason).
  bluegreen::Status start();
  // The bound port (after start()).
  [[nodiscard]] int port() const;
  // http://HOST:PORT/mcp, the URL clients use.
  [[nodiscard]] std::string endpoint_url() const;
  // Stops accepting, ends every open stream and every session (cancelling their calls, waiting up
  // to shutdown_grace for each). Returns false when some call ignored its cancellation (the caller
  // should exit rather than return). Idempotent.
  bool stop();
  [[nodiscard]] std::size_t session_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bluegreen::transport
