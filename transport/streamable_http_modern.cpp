// StreamableHttpServer's requests of protocol 2026-07-28 (transport/streamable_http.h): no session,
// a server per request, the headers checked against the body.

#include "transport/streamable_http_state.h"

#include "common/base64.h"

#include <spdlog/spdlog.h>

#include <string>
#include <variant>

namespace bluegreen::transport {

using http::Session;
using http::Stream;
using http_detail::kJson;
using httplib::Request;
using httplib::Response;
using mcp::json;

void StreamableHttpServer::State::handle_modern(const Request& req, Response& res, const mcp::ParsedMessage& parsed,
                                                const mcp::RequestEra& era) {
  const auto* request = std::get_if<mcp::Request>(&parsed);
  const json id = request != nullptr ? request->id.value : json();
  if (const auto* error = std::get_if<mcp::EnvelopeError>(&era)) {
    res.status = 400;
    res.set_content(mcp::serialize(mcp::make_error(id, error->code, error->message, error->data)), kJson);
    return;
  }
  if (request == nullptr) {  // a notification: without a session there is nothing it could change
    res.status = 202;
    return;
  }
  // The headers must repeat the body (2026-07-28 basic/transports, "Request Metadata").
  const auto& modern = std::get<mcp::ModernRequest>(era);
  const auto mismatch = [&](const std::string& header, const std::string& expected) {
    const std::string sent = req.get_header_value(header);
    if (sent == expected || sent == "=?base64?" + bluegreen::base64_encode(expected) + "?=") return false;
    res.status = 400;
    const std::string problem =
        req.has_header(header)
            ? header + " \"" + sent.substr(0, 100) + "\" does not match the body's \"" + expected.substr(0, 100) + "\""
            : header + " is missing (it must be \"" + expected.substr(0, 100) + "\")";
    res.set_content(mcp::serialize(
                        mcp::make_error(id, mcp::modern_error::kHeaderMismatch, "Header mismatch: " + problem)),
                    kJson);
    return true;
  };
  if (mismatch("MCP-Protocol-Version", modern.version) || mismatch("Mcp-Method", request->method)) return;
  // tools/call, prompts/get (params.name) and resources/read (params.uri) name their target too.
  const char* named = request->method == "resources/read" ? "uri" : "name";
  if ((request->method == "tools/call" || request->method == "prompts/get" || request->method == "resources/read") &&
      request->params.is_object()) {
    const json name = request->params.value(named, json());
    if (name.is_string() && mismatch("Mcp-Name", name.get<std::string>())) return;
  }
  std::string label;
  if (options.tokens) label = options.tokens->check(req.get_header_value("Authorization")).value_or("");
  auto session = new_session(label, res, false);
  if (!session) return;
  {
    std::lock_guard lock(sessions_mu);
    std::erase_if(transient, [](const std::weak_ptr<Session>& s) { return s.expired(); });
    transient.push_back(session);
  }
  auto stream = std::make_shared<Stream>();
  {
    std::lock_guard lock(session->mu);
    session->requests.emplace(request->id.key(), stream);
  }
  deliver(*session, req.body);
  {
    std::lock_guard lock(session->mu);
    if (stream->done && stream->events.size() == 1) {
      const json reply = json::parse(stream->events.front(), nullptr, false);
      const int code = reply.contains("error") ? reply["error"].value("code", 0) : 0;
      // Errors of the protocol itself have HTTP statuses of their own ("Server Validation").
      if (code == mcp::error_code::kMethodNotFound) res.status = 404;
      if (code == mcp::error_code::kInvalidParams || code == mcp::modern_error::kMissingClientCapability ||
          code == mcp::modern_error::kUnsupportedProtocolVersion) {
        res.status = 400;
      }
    }
  }
  respond(res, session, stream);
}

}  // namespace bluegreen::transport
