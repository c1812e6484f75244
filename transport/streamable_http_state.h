#pragma once
// The state behind StreamableHttpServer (transport/streamable_http.h) and the helpers its handlers
// share. Internal to the transport: streamable_http.cpp has the server, its sessions and the
// initialize era's requests; streamable_http_modern.cpp the requests of protocol 2026-07-28.
//
// Thread-safety: as streamable_http.h says; `sessions` and `transient` are guarded by sessions_mu.

#include "transport/http_access.h"
#include "transport/http_session.h"
#include "transport/streamable_http.h"

#include "mcp/json_rpc.h"
#include "mcp/request_meta.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bluegreen::transport {
namespace http_detail {

using httplib::Request;
using httplib::Response;

inline constexpr const char* kJson = "application/json";
inline constexpr const char* kEventStream = "text/event-stream";
inline constexpr const char* kSessionHeader = "Mcp-Session-Id";
// A comment line on an SSE stream after this long without a message: how soon a closed stream is
// noticed (a write to it fails), which for 2026-07-28 is the call's cancellation.
inline constexpr std::chrono::seconds kKeepAlive{2};

inline std::string error_body(int code, const std::string& message) {
  return mcp::serialize(mcp::make_error(nullptr, code, message));
}

inline void refuse(Response& res, int status, const std::string& message, int code = mcp::error_code::kInvalidRequest) {
  res.status = status;
  res.set_content(error_body(code, message), kJson);
}

// Whether an Accept header admits `type` ("a/b"): listed, as "a/*", or as "*/*"; absent admits all.
inline bool accepts(const Request& req, const std::string& type) {
  if (!req.has_header("Accept")) return true;
  const std::string accept = req.get_header_value("Accept");
  const std::string family = type.substr(0, type.find('/')) + "/*";
  return accept.find(type) != std::string::npos || accept.find(family) != std::string::npos ||
         accept.find("*/*") != std::string::npos;
}

}  // namespace http_detail

struct StreamableHttpServer::State {
  State(Options o, SessionFactory f)
      : options(std::move(o)),
        factory(std::move(f)),
        policy(options.host, options.allowed_hosts, options.allowed_origins) {}

  const Options options;
  const SessionFactory factory;
  const http::AccessPolicy policy;
  httplib::Server server;
  std::thread listener;
  std::thread reaper;
  int bound_port = 0;
  std::atomic<bool> stopping{false};

  mutable std::mutex sessions_mu;
  std::condition_variable reaper_wake;
  std::map<std::string, std::shared_ptr<http::Session>> sessions;
  // The servers of 2026-07-28 requests still answering (no session), for stop() to cancel.
  std::vector<std::weak_ptr<http::Session>> transient;
  std::mutex factory_mu;  // the factory is called one at a time

  void configure();
  bool check_access(const httplib::Request& req, httplib::Response& res) const;
  void handle_post(const httplib::Request& req, httplib::Response& res);
  // The POST's message, or nullopt after answering a bad Accept, Content-Type or body itself.
  std::optional<mcp::ParsedMessage> read_post(const httplib::Request& req, httplib::Response& res);
  // The session the POST names, or for initialize a new one (not yet kept); null after answering.
  std::shared_ptr<http::Session> session_for_post(const httplib::Request& req, httplib::Response& res, bool initialize);
  // Keeps a new session whose initialize succeeded and names it in the reply's Mcp-Session-Id;
  // false after answering 503 (too many sessions, or stopping).
  bool keep_if_initialized(const std::shared_ptr<http::Session>& session, const std::shared_ptr<http::Stream>& stream,
                           httplib::Response& res);
  // A POST of protocol 2026-07-28 (its body's _meta claims it): no session; the request is served
  // by a server of its own that ends with its response (MCP 2026-07-28 basic/transports
  // "Streamable HTTP"). Closing the stream cancels it.
  void handle_modern(const httplib::Request& req, httplib::Response& res, const mcp::ParsedMessage& parsed,
                     const mcp::RequestEra& era);
  // Sends the request's reply as JSON when it came at once, else streams it (SSE).
  void respond(httplib::Response& res, const std::shared_ptr<http::Session>& session,
               const std::shared_ptr<http::Stream>& stream);
  void handle_get(const httplib::Request& req, httplib::Response& res);
  void handle_delete(const httplib::Request& req, httplib::Response& res);
  // The session the request names; answers 400 or 404 itself (and returns null) otherwise.
  std::shared_ptr<http::Session> session_of(const httplib::Request& req, httplib::Response& res);
  // A new session (its server made by the factory). `kept` (an initialize): at most max_sessions
  // are kept, so room is made first (make_room), else 503 is answered and null returned.
  std::shared_ptr<http::Session> new_session(const std::string& label, httplib::Response& res, bool kept);
  // With max_sessions kept, ends the least recently used idle one (nothing running, no stream
  // open): clients that never DELETE their session (the Inspector CLI, SDK 1.12) must not lock
  // others out. False when every session is busy, or the server is stopping.
  bool make_room(const std::string& label);
  // Delivers `text` to the session's server; false when the session has ended.
  static bool deliver(http::Session& session, const std::string& text);
  // Ends `session` (already out of the map): cancels its calls and closes its streams.
  bool end_session(const std::shared_ptr<http::Session>& session, const char* why) const;
  void stream_events(httplib::Response& res, const std::shared_ptr<http::Session>& session,
                     const std::shared_ptr<http::Stream>& stream);
  void reap_idle();
};

}  // namespace bluegreen::transport
